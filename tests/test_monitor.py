"""fit(record_stats=...): gradient norms, update/weight ratios and activation statistics, checked by hand."""
import numpy as np
import pytest

import minitl as tl
from minitl import backend, nn, optim
from minitl.lab.monitor import STAT_PANELS, StatsRecorder, stat_series
from minitl.lab.train import fit, plot_history


def float64_batches(steps=3, n=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(tl.tensor(rng.normal(size=(n, 4)), dtype=tl.float64), tl.tensor(rng.integers(0, 2, size=n)))
            for _ in range(steps)]


def tanh_net():
    tl.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).double()


def by_hand(weights, x, y, lr):
    """One plain-SGD step of Linear-Tanh-Linear with mean cross-entropy, in NumPy.

    Returns the new weights, the gradients and the outputs of the three layers."""
    w1, b1, w2, b2 = weights
    h = x @ w1.T + b1
    a = np.tanh(h)
    z = a @ w2.T + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = p.copy()
    dz[np.arange(len(y)), y] -= 1
    dz /= len(y)
    dw2, db2 = dz.T @ a, dz.sum(axis=0)
    dh = (dz @ w2) * (1 - a ** 2)
    dw1, db1 = dh.T @ x, dh.sum(axis=0)
    grads = [dw1, db1, dw2, db2]
    return [w - lr * g for w, g in zip(weights, grads)], grads, [h, a, z]


def test_recorded_numbers_match_a_hand_computation():
    model, data, lr = tanh_net(), float64_batches(), 0.5
    weights = [p.detach().numpy().copy() for p in model.parameters()]
    history = fit(model, data, optim.SGD(model.parameters(), lr=lr), epochs=1, progress=False, record_stats=2)
    stats = history[0]["stats"]
    assert [record["step"] for record in stats] == [0, 2]  # every 2nd of the 3 steps
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    for step, (x, y) in enumerate(data):
        new_weights, grads, outputs = by_hand(weights, x.numpy(), y.numpy(), lr)
        if step in (0, 2):
            record = stats[step // 2]
            assert list(record["grad_norm"]) == names and list(record["activation_mean"]) == ["0", "1", "2"]
            for name, w, g in zip(names, weights, grads):
                assert record["grad_norm"][name] == pytest.approx(np.linalg.norm(g), rel=1e-12)
                # plain SGD: the update is lr * g, so the ratio is lr ||g|| / ||w||
                assert record["update_ratio"][name] == pytest.approx(lr * np.linalg.norm(g) / np.linalg.norm(w),
                                                                     rel=1e-9)
            for name, output in zip(["0", "1", "2"], outputs):
                assert record["activation_mean"][name] == pytest.approx(output.mean(), rel=1e-12, abs=1e-15)
                assert record["activation_std"][name] == pytest.approx(output.std(), rel=1e-12)
        weights = new_weights
    np.testing.assert_allclose(model[2].weight.detach().numpy(), weights[2], rtol=1e-12)


def test_the_update_ratio_is_the_real_step_of_any_optimizer():
    """With momentum and weight decay the step is not lr * g: the ratio follows the weights' change."""
    model, data = tanh_net(), float64_batches(steps=2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    fit(model, data[:1], opt, epochs=1, progress=False)
    before = model[0].weight.detach().numpy().copy()
    stats = fit(model, data[1:], opt, epochs=1, progress=False, record_stats=True)[0]["stats"]
    change = np.linalg.norm(model[0].weight.detach().numpy() - before) / np.linalg.norm(before)
    assert stats[0]["update_ratio"]["0.weight"] == pytest.approx(change, rel=1e-12)


def test_recording_changes_nothing_and_leaves_the_modules_as_they_were():
    runs = []
    for record_stats in (False, True):
        model = tanh_net()
        history = fit(model, float64_batches(), optim.Adam(model.parameters(), lr=0.01), epochs=2, progress=False,
                      record_stats=record_stats)
        runs.append((model, history))
    (plain, plain_history), (recorded, recorded_history) = runs
    for a, b in zip(plain.parameters(), recorded.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert "stats" not in plain_history[0]
    assert [len(record["stats"]) for record in recorded_history] == [3, 3]
    assert [s["step"] for s in recorded_history[1]["stats"]] == [3, 4, 5]  # steps count on across epochs
    assert all("forward" not in vars(module) for module in recorded.modules())


def test_a_failing_forward_still_restores_the_modules():
    model = tanh_net()
    recorder = StatsRecorder(model)
    with pytest.raises(ValueError), recorder.watch():
        model(tl.ones((2, 5), dtype=tl.float64))  # 5 features for a Linear(4, ...)
    assert all("forward" not in vars(module) for module in model.modules())


def test_frozen_parameters_and_zero_weights():
    model = tanh_net()
    model[0].requires_grad_(False)
    nn.init.zeros_(model[2].bias)
    stats = fit(model, float64_batches(steps=1), optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False,
                record_stats=1)[0]["stats"][0]
    assert list(stats["grad_norm"]) == ["2.weight", "2.bias"]
    assert stats["update_ratio"]["2.bias"] is None and stats["update_ratio"]["2.weight"] > 0  # no ratio to 0


@pytest.mark.parametrize("every", [0, -1, 1.5, "10"])
def test_record_stats_needs_a_positive_step_count(every):
    with pytest.raises(ValueError, match="positive integer"):
        StatsRecorder(tanh_net(), every=every)


def test_plot_history_draws_the_statistics(tmp_path):
    pytest.importorskip("matplotlib")
    model = tanh_net()
    history = fit(model, float64_batches(), optim.SGD(model.parameters(), lr=0.1), epochs=2, progress=False,
                  record_stats=1)
    path = plot_history(history, tmp_path / "stats.png")
    plain = plot_history([{k: v for k, v in r.items() if k != "stats"} for r in history], tmp_path / "plain.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1.5 * plain.stat().st_size  # the statistics panels are drawn


def test_the_panels_split_weights_from_biases():
    model = tanh_net()
    nn.init.zeros_(model[2].bias)  # its update ratio is None at the first step: left out of that panel
    stats = fit(model, float64_batches(), optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False,
                record_stats=1)[0]["stats"]
    panels = {(key, kind): {name: (steps, values) for name, steps, values in lines}
              for (key, kind, _, _), lines in zip(STAT_PANELS, stat_series(stats))}
    for key in ("update_ratio", "grad_norm"):
        assert list(panels[key, "weights"]) == ["0.weight", "2.weight"]
        assert list(panels[key, "biases"]) == ["0.bias", "2.bias"]
    assert list(panels["activation_mean", "modules"]) == list(panels["activation_std", "modules"]) == ["0", "1", "2"]
    assert panels["update_ratio", "biases"]["2.bias"][0] == [1, 2]  # step 0 divided by a zero norm
    assert panels["update_ratio", "weights"]["2.weight"] == ([0, 1, 2], [s["update_ratio"]["2.weight"] for s in stats])


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cuda_available(), reason="needs CuPy and an NVIDIA GPU")
def test_recording_on_the_gpu_gives_the_cpu_numbers():
    stats = []
    for device in ("cpu", "cuda"):
        model = tanh_net().float().to(device)
        data = [(x.float().to(device), y.to(device)) for x, y in float64_batches(steps=2)]
        history = fit(model, data, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=1, progress=False,
                      record_stats=True)
        stats.append(history[0]["stats"])
    for cpu, gpu in zip(*stats):
        for key in ("grad_norm", "update_ratio", "activation_mean", "activation_std"):
            assert list(gpu[key]) == list(cpu[key]) and all(isinstance(v, float) for v in gpu[key].values())
            np.testing.assert_allclose(list(gpu[key].values()), list(cpu[key].values()), rtol=1e-4, atol=1e-6)
