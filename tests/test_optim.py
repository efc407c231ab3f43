"""Optimizer mechanics: param groups, state, skipping, zero_grad, state_dict, errors, gradient clipping."""
import re

import numpy as np
import pytest

import minitl as tl
import minitl.optim as optim

from cases import optim_cases as cases


def make_params(dtype=tl.float64, seed=0, device=None):
    arrays, _, _ = cases.make_problem(seed)
    return [tl.tensor(a, dtype=dtype, requires_grad=True, device=device) for a in arrays]


def train(opt, params, steps, seed=0):
    _, x, y = cases.make_problem(seed)
    x, y = (tl.tensor(a, dtype=params[0].dtype, device=params[0].device) for a in (x, y))
    for _ in range(steps):
        opt.zero_grad()
        cases.mlp_loss(params, x, y).backward()
        opt.step()


def values(params):
    return [p.data.copy() for p in params]


# -- param groups and defaults -------------------------------------------------------------------
def test_groups_take_the_defaults_they_do_not_set():
    params = make_params()
    opt = optim.SGD([{"params": params[:2], "lr": 0.5}, {"params": params[2:]}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    assert opt.param_groups[0]["params"][1] is params[1]
    assert opt.defaults == dict(lr=0.1, momentum=0.9, dampening=0, weight_decay=0, nesterov=False, maximize=False,
                                foreach=None, differentiable=False, fused=None)


# each optimizer's defaults as torch 2.13 prints them (param_groups carry the same keys)
PYTORCH_DEFAULTS = {
    "SGD": dict(lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False, foreach=None,
                differentiable=False, fused=None),
    "Adagrad": dict(lr=0.01, lr_decay=0, eps=1e-10, weight_decay=0, initial_accumulator_value=0, foreach=None,
                    maximize=False, differentiable=False, fused=None),
    "RMSprop": dict(lr=0.01, momentum=0, alpha=0.99, eps=1e-08, centered=False, weight_decay=0, capturable=False,
                    foreach=None, maximize=False, differentiable=False),
    "Adam": dict(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, amsgrad=False, maximize=False,
                 foreach=None, capturable=False, differentiable=False, fused=None, decoupled_weight_decay=False),
    "AdamW": dict(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=False, maximize=False,
                  foreach=None, capturable=False, differentiable=False, fused=None, decoupled_weight_decay=True),
    "NAdam": dict(lr=0.002, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, momentum_decay=0.004,
                  decoupled_weight_decay=False, maximize=False, foreach=None, capturable=False,
                  differentiable=False),
    "RAdam": dict(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, maximize=False, foreach=None,
                  capturable=False, decoupled_weight_decay=False, differentiable=False),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-06, weight_decay=0, maximize=False, capturable=False, foreach=None,
                     differentiable=False),
    "Adamax": dict(lr=0.002, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, foreach=None, maximize=False,
                   differentiable=False, capturable=False),
}


@pytest.mark.parametrize("name", list(PYTORCH_DEFAULTS))
def test_defaults_and_group_keys_match_pytorch(name):
    opt = getattr(optim, name)(make_params())
    assert opt.defaults == PYTORCH_DEFAULTS[name]
    assert {key: value for key, value in opt.param_groups[0].items() if key != "params"} == PYTORCH_DEFAULTS[name]


@pytest.mark.torch
@pytest.mark.parametrize("name", list(PYTORCH_DEFAULTS))
def test_defaults_match_live_pytorch(name):
    torch = pytest.importorskip("torch")
    assert getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults == PYTORCH_DEFAULTS[name]


def test_lbfgs_defaults():
    assert optim.LBFGS(make_params()).defaults["max_eval"] == 25


@pytest.mark.parametrize("option, why", [("differentiable", "not recorded by autograd"),
                                         ("capturable", "CUDA graphs"), ("fused", "no fused")])
def test_implementation_switches_other_than_the_default_are_refused(option, why):
    with pytest.raises(ValueError, match=f"Adam: {option}=True is not supported .*{why}"):
        optim.Adam(make_params(), **{option: True})
    optim.Adam(make_params(), foreach=False)  # foreach only picks PyTorch's loop: accepted


def test_named_parameters_are_accepted_and_their_names_kept():
    model = tl.nn.Sequential(tl.nn.Linear(3, 4), tl.nn.ReLU(), tl.nn.Linear(4, 2))
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert opt.param_groups[0]["param_names"] == names
    assert opt.param_groups[0]["params"][0] is model[0].weight
    assert opt.state_dict()["param_groups"][0]["param_names"] == names
    with pytest.raises(ValueError, match="must have parameter names .*or none"):
        opt.add_param_group({"params": [tl.zeros(2, requires_grad=True)]})
    model(tl.ones(5, 3)).sum().backward()
    before = model[0].weight.data.copy()
    opt.step()
    assert np.any(model[0].weight.data != before)


@pytest.mark.parametrize("name", list(PYTORCH_DEFAULTS))
def test_maximize_climbs_as_minimizing_the_negation_descends(name):
    """maximize=True on -loss takes exactly the steps of minimizing loss (the parity cases check PyTorch's)."""
    params, negated = make_params(), make_params()
    options = dict(lr=0.5) if name == "SGD" else {}
    train(getattr(optim, name)(params, **options), params, steps=5)
    opt = getattr(optim, name)(negated, maximize=True, **options)
    _, x, y = cases.make_problem(0)
    x, y = tl.tensor(x, dtype=tl.float64), tl.tensor(y, dtype=tl.float64)
    for _ in range(5):
        opt.zero_grad()
        (-cases.mlp_loss(negated, x, y)).backward()
        opt.step()
    for p, q in zip(params, negated):
        np.testing.assert_array_equal(p.data, q.data)


def test_a_group_of_one_tensor_and_a_generator_are_accepted():
    params = make_params()
    opt = optim.SGD((p for p in params[:2]), lr=0.1)
    opt.add_param_group({"params": params[2]})
    assert [len(g["params"]) for g in opt.param_groups] == [2, 1]


def test_learning_rate_is_read_from_the_group_at_each_step():
    p = tl.tensor([1.0], dtype=tl.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = tl.tensor([1.0], dtype=tl.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    assert p.data[0] == 1.0 - 0.1 - 0.5


# -- state -------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, names", [
    (lambda p: optim.SGD(p, lr=0.1), set()),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), {"momentum_buffer"}),
    (lambda p: optim.Adagrad(p), {"step", "sum"}),
    (lambda p: optim.RMSprop(p), {"step", "square_avg"}),
    (lambda p: optim.RMSprop(p, momentum=0.9, centered=True),
     {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    (lambda p: optim.Adam(p), {"step", "exp_avg", "exp_avg_sq"}),
    (lambda p: optim.AdamW(p, amsgrad=True), {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    (lambda p: optim.NAdam(p), {"step", "mu_product", "exp_avg", "exp_avg_sq"}),
    (lambda p: optim.RAdam(p), {"step", "exp_avg", "exp_avg_sq"}),
    (lambda p: optim.Adadelta(p), {"step", "square_avg", "acc_delta"}),
    (lambda p: optim.Adamax(p), {"step", "exp_avg", "exp_inf"}),
])
def test_state_uses_pytorch_names(make, names):
    params = make_params()
    opt = make(params)
    train(opt, params, steps=3)
    assert set(opt.state[params[0]]) == names
    if "step" in names:
        assert opt.state[params[0]]["step"] == 3
    for key in names - {"step", "mu_product"}:  # the counters are numbers, the buffers shaped like p
        assert opt.state[params[0]][key].shape == params[0].shape


def test_adam_state_after_one_step_is_the_hand_computed_moments():
    p = tl.tensor([1.0, -2.0], dtype=tl.float64, requires_grad=True)
    p.grad = tl.tensor([0.5, 4.0], dtype=tl.float64)
    opt = optim.Adam([p], lr=0.1)
    opt.step()
    np.testing.assert_allclose(opt.state[p]["exp_avg"].numpy(), 0.1 * np.array([0.5, 4.0]), rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"].numpy(), 0.001 * np.array([0.25, 16.0]), rtol=1e-15)
    # bias correction makes the first step lr * sign(g)
    np.testing.assert_allclose(p.data, [1.0 - 0.1, -2.0 - 0.1], rtol=1e-7)


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: optim.Adagrad(p, weight_decay=0.1),
    lambda p: optim.RMSprop(p, momentum=0.9, weight_decay=0.1),
    lambda p: optim.Adam(p, weight_decay=0.1),
    lambda p: optim.AdamW(p, weight_decay=0.1),
])
def test_parameters_without_gradient_are_skipped(make):
    """No decay and no momentum for a parameter whose .grad is None."""
    params = make_params()
    opt = make(params)
    train(opt, params, steps=2)
    before = values(params)
    state_before = {k: (v.numpy().copy() if isinstance(v, tl.Tensor) else v) for k, v in opt.state[params[0]].items()}
    opt.zero_grad()
    opt.step()  # every .grad is None
    for p, old in zip(params, before):
        np.testing.assert_array_equal(p.data, old)
    for key, value in state_before.items():
        now = opt.state[params[0]][key]
        np.testing.assert_array_equal(now.numpy() if isinstance(now, tl.Tensor) else now, value)


def test_float32_parameters_and_state_stay_float32():
    for make in (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
                 lambda p: optim.Adagrad(p, lr_decay=0.1, weight_decay=0.1),
                 lambda p: optim.RMSprop(p, momentum=0.9, centered=True, weight_decay=0.1),
                 lambda p: optim.AdamW(p, amsgrad=True)):
        params = make_params(dtype=tl.float32)
        opt = make(params)
        train(opt, params, steps=2)
        assert all(p.dtype == np.float32 for p in params)
        assert all(v.dtype == np.float32 for p in params for v in opt.state.get(p, {}).values()
                   if hasattr(v, "dtype"))


def test_step_with_closure_returns_its_loss():
    params = make_params()
    _, x, y = cases.make_problem()
    x, y = tl.tensor(x, dtype=tl.float64), tl.tensor(y, dtype=tl.float64)
    opt = optim.SGD(params, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = cases.mlp_loss(params, x, y)
        loss.backward()
        return loss

    first = opt.step(closure).item()
    assert opt.step(closure).item() < first


# -- zero_grad ---------------------------------------------------------------------------------
def test_zero_grad_sets_none_by_default_or_zeros():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    train(opt, params, steps=1)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is None for p in params[-1:])  # the unused parameter never had one
    for p in params[:-1]:
        np.testing.assert_array_equal(p.grad.data, np.zeros(p.shape))
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_zeroes_each_gradient_in_place_and_only_its_own():
    # Add.backward hands the same array to both inputs: each leaf must still own its .grad.
    a = tl.tensor([1.0, 2.0], requires_grad=True)
    b = tl.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    grad_of_a = a.grad.data
    optim.SGD([a], lr=0.1).zero_grad(set_to_none=False)
    assert a.grad.data is grad_of_a and a.grad.numpy().tolist() == [0, 0]
    assert b.grad.numpy().tolist() == [1, 1]


# -- state_dict -------------------------------------------------------------------------------
def test_state_dict_has_pytorch_layout():
    params = make_params()
    opt = cases.build_optimizer(optim, "adam_groups", params)
    train(opt, params, steps=2)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1, 2], [3, 4]]  # numbered in group order
    assert sd["param_groups"][0]["lr"] == 0.003 and sd["param_groups"][1]["betas"] == (0.5, 0.9)
    assert sorted(sd["state"]) == [0, 1, 3, 4]  # W1, b1, W2, b2; `unused` (number 2) never stepped
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}


def test_state_dict_is_a_snapshot():
    params = make_params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    train(opt, params, steps=1)
    sd = opt.state_dict()
    saved = sd["state"][0]["momentum_buffer"].copy()
    train(opt, params, steps=1)
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], saved)


@pytest.mark.parametrize("case", ["sgd_groups", "adagrad_all", "rmsprop_all", "adam_groups", "adamw_amsgrad_wd",
                                  "nadam_momentum_decay", "radam_short_warmup", "adadelta_all", "adamax_groups"])
def test_resuming_from_a_state_dict_gives_the_same_steps(case):
    params = make_params()
    opt = cases.build_optimizer(optim, case, params)
    train(opt, params, steps=10)
    saved_params, saved_state = values(params), opt.state_dict()
    train(opt, params, steps=10)
    expected = values(params)

    resumed = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in saved_params]
    opt2 = cases.build_optimizer(optim, case, resumed)
    for group in opt2.param_groups:
        group["lr"] = 123.0  # the state_dict's hyper-parameters must win
    opt2.load_state_dict(saved_state)
    train(opt2, resumed, steps=10)
    for p, e in zip(resumed, expected):
        np.testing.assert_array_equal(p.data, e)


def test_loaded_state_is_copied_and_cast_to_the_parameter_dtype():
    params = make_params()
    opt = optim.Adam(params)
    train(opt, params, steps=1)
    sd = opt.state_dict()
    params32 = make_params(dtype=tl.float32)
    opt32 = optim.Adam(params32)
    opt32.load_state_dict(sd)
    assert opt32.state[params32[0]]["exp_avg"].dtype == np.float32
    opt32.state[params32[0]]["exp_avg"].data[...] = 0
    assert np.any(sd["state"][0]["exp_avg"] != 0)


def _wrong_group_count(sd):
    sd["param_groups"].append(dict(sd["param_groups"][0], params=[]))


def _wrong_group_size(sd):
    sd["param_groups"][0]["params"] = sd["param_groups"][0]["params"][:-1]


def _wrong_shape(sd):
    sd["state"][1]["exp_avg"] = np.zeros((7,))


def _unknown_index(sd):
    sd["state"][99] = sd["state"][0]


@pytest.mark.parametrize("corrupt, message", [
    (_wrong_group_count, "2 parameter groups, this optimizer has 1"),
    (_wrong_group_size, "parameter group 0 has 4 parameters in the state_dict, 5 in this optimizer"),
    (_wrong_shape, "state 'exp_avg' of parameter 1 has shape (7,), the parameter has shape (6,)"),
    (_unknown_index, "state for parameter 99"),
])
def test_mismatched_state_dict_raises_and_leaves_the_optimizer_unchanged(corrupt, message):
    params = make_params()
    opt = optim.Adam(params, lr=0.01)
    train(opt, params, steps=2)
    sd = opt.state_dict()
    corrupt(sd)
    for group in sd["param_groups"]:
        group["lr"] = 99.0
    before = opt.state_dict()
    with pytest.raises(ValueError) as err:
        opt.load_state_dict(sd)
    assert message in str(err.value)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, buffers in before["state"].items():
        for key, value in buffers.items():
            np.testing.assert_array_equal(after["state"][index][key], value)


# -- add_param_group and constructor errors --------------------------------------------------------
def test_add_param_group_fills_defaults_and_trains_the_new_parameters():
    params = make_params()
    opt = optim.Adam(params[:2], lr=0.01)
    opt.add_param_group({"params": params[2:4], "lr": 0.1})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    before = values(params)
    train(opt, params, steps=1)
    assert all(np.any(p.data != b) for p, b in zip(params[:4], before[:4]))


@pytest.mark.parametrize("build, error, message", [
    (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda p: optim.SGD(p[0], lr=0.1), TypeError, "single Tensor"),
    (lambda p: optim.SGD([p[0], np.zeros(3)], lr=0.1), TypeError, "ndarray"),
    (lambda p: optim.SGD({p[0]}, lr=0.1), TypeError, "got a set"),
    (lambda p: optim.SGD([p[0], p[0]], lr=0.1), ValueError, "same parameter twice"),
    (lambda p: optim.SGD([{"params": [p[0]]}, {"params": [p[0], p[1]]}], lr=0.1), ValueError,
     "more than one parameter group"),
    (lambda p: optim.SGD([p[0] * 2], lr=0.1), ValueError, "non-leaf"),
    (lambda p: optim.SGD([{"lr": 0.1}]), ValueError, "'params' entry"),
    (lambda p: optim.LBFGS([{"params": [p[0]]}, {"params": [p[1]]}]), ValueError, "parameter groups"),
])
def test_bad_parameter_lists_fail_clearly(build, error, message):
    with pytest.raises(error, match=message):
        build(make_params())


@pytest.mark.parametrize("build, message", [
    (lambda p: optim.SGD(p, lr=-0.1), "invalid lr=-0.1"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "invalid momentum=-0.5"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1e-4), "invalid weight_decay=-0.0001"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0 .* momentum=0,"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
    (lambda p: optim.SGD([{"params": p, "lr": -1.0}], lr=0.1), "invalid lr=-1.0"),
    (lambda p: optim.Adagrad(p, lr_decay=-0.1), "invalid lr_decay=-0.1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "invalid initial_accumulator_value=-1"),
    (lambda p: optim.Adagrad(p, eps=-1e-10), "invalid eps=-1e-10"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "invalid alpha=-0.5"),
    (lambda p: optim.RMSprop(p, momentum=-0.1), "invalid momentum=-0.1"),
    (lambda p: optim.RMSprop(p, eps=float("nan")), "invalid eps=nan"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "beta parameter at index 1: -0.1"),
    (lambda p: optim.Adam(p, betas=(0.9,)), "betas must be a pair"),
    (lambda p: optim.Adam(p, eps=-1.0), "invalid eps=-1.0"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), "AdamW: invalid weight_decay=-0.01"),
    (lambda p: optim.AdamW([{"params": p, "betas": (0.9, 1.5)}]), "AdamW: invalid beta parameter at index 1"),
    (lambda p: optim.NAdam(p, momentum_decay=-0.1), "NAdam: invalid momentum_decay=-0.1"),
    (lambda p: optim.NAdam(p, betas=(0.9, 1.0)), "NAdam: invalid beta parameter at index 1"),
    (lambda p: optim.RAdam(p, eps=-1e-8), "RAdam: invalid eps=-1e-08"),
    (lambda p: optim.Adadelta(p, rho=1.5), "Adadelta: invalid rho=1.5: must be in"),
    (lambda p: optim.Adadelta(p, lr=-1.0), "Adadelta: invalid lr=-1.0"),
    (lambda p: optim.Adamax(p, betas=(-0.1, 0.999)), "Adamax: invalid beta parameter at index 0"),
    (lambda p: optim.LBFGS(p, lr=-1), "invalid lr=-1"),
    (lambda p: optim.LBFGS(p, history_size=0), "invalid history_size=0"),
    (lambda p: optim.LBFGS(p, line_search_fn="wolfe"), "line_search_fn must be None or 'strong_wolfe'"),
])
def test_invalid_hyperparameters_name_the_value(build, message):
    with pytest.raises(ValueError, match=message):
        build(make_params())


# -- clip_grad_norm_ ----------------------------------------------------------------------------
def test_clip_grad_norm_scales_all_gradients_by_one_factor():
    a = tl.tensor([0.0, 0.0], dtype=tl.float64, requires_grad=True)
    b = tl.tensor([0.0], dtype=tl.float64, requires_grad=True)
    frozen = tl.tensor([0.0], dtype=tl.float64, requires_grad=True)  # no gradient: ignored
    a.grad, b.grad = tl.tensor([3.0, 4.0], dtype=tl.float64), tl.tensor([12.0], dtype=tl.float64)
    total = optim.clip_grad_norm_([a, b, frozen], max_norm=6.5)
    assert total.item() == 13.0
    scale = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(a.grad.data, [3 * scale, 4 * scale], rtol=1e-15)
    np.testing.assert_allclose(b.grad.data, [12 * scale], rtol=1e-15)
    assert frozen.grad is None


def test_clip_grad_norm_leaves_small_gradients_and_handles_inf_norm():
    a = tl.tensor([0.0, 0.0], dtype=tl.float64, requires_grad=True)
    a.grad = tl.tensor([3.0, -4.0], dtype=tl.float64)
    assert optim.clip_grad_norm_(a, max_norm=10.0).item() == 5.0
    np.testing.assert_array_equal(a.grad.data, [3.0, -4.0])
    assert optim.clip_grad_norm_(a, max_norm=1.0, norm_type="inf").item() == 4.0
    np.testing.assert_allclose(a.grad.data, [3.0 / (4 + 1e-6), -4.0 / (4 + 1e-6)], rtol=1e-15)
    assert optim.clip_grad_norm_([tl.tensor([1.0], requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_norm_can_refuse_non_finite_norms():
    a = tl.tensor([0.0], dtype=tl.float64, requires_grad=True)
    a.grad = tl.tensor([np.inf], dtype=tl.float64)
    with pytest.raises(RuntimeError, match="total norm .* is inf"):
        optim.clip_grad_norm_(a, 1.0, error_if_nonfinite=True)


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_live_pytorch(norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=s) for s in [(3, 4), (4,), (2, 2, 2)]]
    ours = [tl.tensor(np.zeros_like(g), dtype=tl.float64, requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tl.tensor(g, dtype=tl.float64), torch.tensor(g)
    total = optim.clip_grad_norm_(ours, max_norm=0.5, norm_type=norm_type).item()
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=0.5, norm_type=norm_type).item()
    assert abs(total - expected) <= 1e-14 * expected
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-14)


# -- GPU ----------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.skipif(not tl.backend.cuda_available(), reason="needs CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("case", ["sgd_groups", "adagrad_all", "rmsprop_all", "adam_groups", "adamw_amsgrad_wd",
                                  "nadam_momentum_decay", "radam_short_warmup", "adadelta_all", "adamax_groups"])
def test_the_same_steps_on_the_gpu(case):
    cpu, gpu = make_params(), make_params(device="cuda")
    for params in (cpu, gpu):
        opt = cases.build_optimizer(optim, case, params)
        train(opt, params, steps=20)
        optim.clip_grad_norm_(params, max_norm=0.1)
        opt.step()
    assert all(p.device == "cuda" for p in gpu)
    assert all(tl.backend.device_of(v) == "cuda" for p in gpu for v in opt.state.get(p, {}).values()
               if tl.backend.is_array(v))
    for p, q in zip(cpu, gpu):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-10, atol=1e-12)


# -- state as tensors, and what the constructor is given ------------------------------------------
@pytest.mark.parametrize("make, names", [
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), ["momentum_buffer"]),
    (lambda p: optim.Adagrad(p), ["sum"]),
    (lambda p: optim.RMSprop(p, momentum=0.9, centered=True), ["square_avg", "momentum_buffer", "grad_avg"]),
    (lambda p: optim.Adam(p, amsgrad=True), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
])
def test_state_buffers_are_tensors_that_follow_the_steps(make, names):
    """As in torch: opt.state[p]['exp_avg'] is a Tensor; the one a user holds stays the live buffer."""
    params = make_params()
    opt = make(params)
    train(opt, params, steps=1)
    held = {name: opt.state[params[0]][name] for name in names}
    first = {name: tensor.numpy().copy() for name, tensor in held.items()}
    train(opt, params, steps=1)
    for name, tensor in held.items():
        assert isinstance(tensor, tl.Tensor) and tensor is opt.state[params[0]][name]
        assert tensor.shape == params[0].shape and not np.array_equal(tensor.numpy(), first[name])
    saved = opt.state_dict()["state"][0]
    for name in names:  # the state_dict holds array snapshots, as before
        assert isinstance(saved[name], np.ndarray) and saved[name] is not held[name].data


@pytest.mark.parametrize("params, message", [
    (lambda model: model, "got the module Linear itself; pass model.parameters()"),
    (lambda model: model.parameters, "got the method 'parameters' uncalled; pass model.parameters()"),
])
def test_a_module_or_its_uncalled_parameters_method_is_refused_with_the_fix(params, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        optim.SGD(params(tl.nn.Linear(2, 3)), lr=0.1)


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr="0.1"), lambda p: optim.Adam(p, lr=None),
                                  lambda p: optim.SGD(p, lr=0.1, momentum="0.9")])
def test_hyperparameters_must_be_numbers(make):
    with pytest.raises(TypeError, match=r"SGD: lr must be a number, got '0.1' \(str\)|Adam: lr must be a number, "
                                        r"got None|momentum must be a number, got '0.9'"):
        make(make_params())


# -- nn.utils.parameters_to_vector / vector_to_parameters -------------------------------------------
def test_parameters_to_vector_and_back():
    params = make_params()
    vec = tl.nn.utils.parameters_to_vector(params)
    np.testing.assert_array_equal(vec.detach().numpy(), cases.flat(p.detach().numpy() for p in params))
    (vec * tl.arange(vec.shape[0], dtype=tl.float64)).sum().backward()  # differentiable, as torch's
    np.testing.assert_array_equal(params[1].grad.numpy(), np.arange(18, 24))
    held = params[0].data
    tl.nn.utils.vector_to_parameters(vec * 2, params)
    assert params[0].data is held  # written in place: an optimizer's references stay valid
    np.testing.assert_array_equal(tl.nn.utils.parameters_to_vector(params).detach().numpy(),
                                  2 * vec.detach().numpy())


@pytest.mark.parametrize("call, error, message", [
    (lambda p: tl.nn.utils.vector_to_parameters(np.zeros(41), p), TypeError, "expected a Tensor, got ndarray"),
    (lambda p: tl.nn.utils.vector_to_parameters(tl.zeros(40), p), ValueError, "40 elements, the parameters 41"),
    (lambda p: tl.nn.utils.vector_to_parameters(tl.zeros(41, 1), p), ValueError, "expected a 1-D tensor"),
    (lambda p: tl.nn.utils.parameters_to_vector([]), ValueError, "got no parameters"),
])
def test_vector_conversions_fail_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call(make_params())


@pytest.mark.torch
def test_vector_conversions_match_live_pytorch():
    torch = pytest.importorskip("torch")
    arrays, _, _ = cases.make_problem(2)
    ours = [tl.tensor(a, dtype=tl.float64) for a in arrays]
    theirs = [torch.tensor(a) for a in arrays]
    np.testing.assert_array_equal(tl.nn.utils.parameters_to_vector(ours).numpy(),
                                  torch.nn.utils.parameters_to_vector(theirs).numpy())
    vec = np.linspace(-1, 1, 41)
    tl.nn.utils.vector_to_parameters(tl.tensor(vec, dtype=tl.float64), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("case", ["nadam_momentum_decay", "radam_short_warmup", "adadelta_all", "adamax_all"])
def test_new_optimizers_resume_from_a_saved_file(case, tmp_path):
    """state_dict -> tl.save -> tl.load -> load_state_dict takes the same steps (NAdam's mu_product included)."""
    params = make_params()
    opt = cases.build_optimizer(optim, case, params)
    train(opt, params, steps=4)
    tl.save(opt.state_dict(), tmp_path / "opt.tlz")
    saved_params = values(params)
    train(opt, params, steps=4)
    resumed = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in saved_params]
    opt2 = cases.build_optimizer(optim, case, resumed)
    opt2.load_state_dict(tl.load(tmp_path / "opt.tlz"))
    train(opt2, resumed, steps=4)
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(p.data, q.data)
