"""The optimizer and schedule runs compared with PyTorch (torch-free: shared by the tests and the golden script).

Every function here takes the library (``minitl`` or ``torch``) as an
argument and uses only the API the two share, so one definition drives both
sides of each comparison.
"""
import numpy as np

# -- optimizers on a small MLP ---------------------------------------------------------------
STEPS = 60
CHECKPOINTS = (1, 5, 20, 60)
PARAM_NAMES = ("W1", "b1", "W2", "b2", "unused")  # `unused` never gets a gradient: it must not move


def make_problem(seed=0):
    """Initial parameters (float64) and one batch (x, y) for a 3-6-2 ReLU MLP regression."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=(3, 6)) * 0.6, rng.normal(size=6) * 0.1,
              rng.normal(size=(6, 2)) * 0.4, rng.normal(size=2) * 0.1, rng.normal(size=3)]
    x = rng.normal(size=(8, 3))
    y = rng.normal(size=(8, 2))
    return params, x, y


def mlp_loss(params, x, y):
    W1, b1, W2, b2, _unused = params
    h = (x @ W1 + b1).relu()
    out = h @ W2 + b2
    return ((out - y) ** 2).mean()


# name -> (optimizer class name, constructor keyword arguments, param groups): the groups are None
# (all parameters in one group) or a list of (indices into PARAM_NAMES, group options)
OPTIMIZER_CASES = {
    "sgd": ("SGD", dict(lr=0.1), None),
    "sgd_wd": ("SGD", dict(lr=0.1, weight_decay=0.01), None),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9), None),
    "sgd_momentum_wd": ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01), None),
    "sgd_momentum_dampening": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1), None),
    "sgd_momentum_dampening_wd": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01), None),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), None),
    "sgd_nesterov_wd": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), None),
    "sgd_groups": ("SGD", dict(lr=0.05, momentum=0.9),
                   [([0, 1], dict(lr=0.02, weight_decay=0.01)), ([2, 3, 4], dict(nesterov=True))]),
    "adagrad": ("Adagrad", dict(lr=0.1), None),
    "adagrad_wd": ("Adagrad", dict(lr=0.1, weight_decay=0.01), None),
    "adagrad_lr_decay": ("Adagrad", dict(lr=0.1, lr_decay=0.01), None),
    "adagrad_initial_accumulator": ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1), None),
    "adagrad_all": ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1,
                                    eps=1e-3), None),
    "rmsprop": ("RMSprop", dict(lr=0.01), None),
    "rmsprop_wd": ("RMSprop", dict(lr=0.01, weight_decay=0.01), None),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.01, momentum=0.5), None),
    "rmsprop_centered": ("RMSprop", dict(lr=0.01, centered=True), None),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5), None),
    "rmsprop_all": ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, centered=True, momentum=0.5,
                                    weight_decay=0.01), None),
    "adam": ("Adam", dict(lr=0.01), None),
    "adam_wd": ("Adam", dict(lr=0.01, weight_decay=0.01), None),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True), None),
    "adam_amsgrad_wd": ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01), None),
    "adam_betas_eps": ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4), None),
    "adam_groups": ("Adam", dict(lr=0.01),
                    [([0, 1, 4], dict(lr=0.003, amsgrad=True)), ([2, 3], dict(betas=(0.5, 0.9)))]),
    "adamw": ("AdamW", dict(lr=0.01), None),
    "adamw_wd": ("AdamW", dict(lr=0.01, weight_decay=0.1), None),
    "adamw_no_wd": ("AdamW", dict(lr=0.01, weight_decay=0), None),
    "adamw_amsgrad_wd": ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True), None),
    "adam_decoupled": ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    "nadam": ("NAdam", dict(lr=0.01), None),
    "nadam_wd": ("NAdam", dict(lr=0.01, weight_decay=0.01), None),
    "nadam_decoupled": ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    "nadam_momentum_decay": ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4, momentum_decay=0.1), None),
    "radam": ("RAdam", dict(lr=0.01), None),
    "radam_wd": ("RAdam", dict(lr=0.01, weight_decay=0.01), None),
    "radam_decoupled": ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    "radam_short_warmup": ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), eps=1e-4), None),  # rectified from step 3
    "adadelta": ("Adadelta", dict(), None),
    "adadelta_all": ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.01), None),
    "adamax": ("Adamax", dict(lr=0.01), None),
    "adamax_all": ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4, weight_decay=0.01), None),
    "adamax_groups": ("Adamax", dict(lr=0.01),
                      [([0, 1, 4], dict(lr=0.003, weight_decay=0.01)), ([2, 3], dict(betas=(0.5, 0.9)))]),
    # maximize=True on the negated loss takes the same steps as minimizing the loss
    "sgd_maximize": ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01, maximize=True), None),
    "adagrad_maximize": ("Adagrad", dict(lr=0.1, weight_decay=0.01, maximize=True), None),
    "rmsprop_maximize": ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True), None),
    "adam_maximize": ("Adam", dict(lr=0.01, weight_decay=0.01, amsgrad=True, maximize=True), None),
    "adamw_maximize": ("AdamW", dict(lr=0.01, weight_decay=0.1, maximize=True), None),
    "nadam_maximize": ("NAdam", dict(lr=0.01, weight_decay=0.01, maximize=True), None),
    "radam_maximize": ("RAdam", dict(lr=0.01, weight_decay=0.01, maximize=True), None),
    "adadelta_maximize": ("Adadelta", dict(weight_decay=0.01, maximize=True), None),
    "adamax_maximize": ("Adamax", dict(lr=0.01, weight_decay=0.01, maximize=True), None),
}


def build_optimizer(optim_module, case, params):
    """The optimizer of `case` over `params` (a list in PARAM_NAMES order), from torch.optim or minitl.optim."""
    class_name, kwargs, groups = OPTIMIZER_CASES[case]
    if groups is not None:
        params = [{"params": [params[i] for i in indices], **options} for indices, options in groups]
    return getattr(optim_module, class_name)(params, **kwargs)


def flat(arrays):
    """One vector of all the arrays' values, in order."""
    return np.concatenate([np.ravel(a) for a in arrays])


def run_optimizer(lib, optim_module, case, arrays, x, y):
    """Train from `arrays` for STEPS steps.

    Returns the parameters at CHECKPOINTS as one array (len(CHECKPOINTS), number of values), and the
    final state as {state name: the values of that buffer for every parameter having it, flattened}.
    """
    params = [lib.tensor(a.copy(), dtype=lib.float64, requires_grad=True) for a in arrays]
    x, y = lib.tensor(x, dtype=lib.float64), lib.tensor(y, dtype=lib.float64)
    opt = build_optimizer(optim_module, case, params)
    checkpoints = []
    sign = -1 if opt.defaults.get("maximize") else 1
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        (sign * mlp_loss(params, x, y)).backward()
        opt.step()
        if step in CHECKPOINTS:
            checkpoints.append(flat(p.detach().numpy() for p in params))
    buffers = {}
    for p in params:
        for key, value in opt.state.get(p, {}).items():
            value = value.detach().numpy() if hasattr(value, "detach") else value  # torch keeps 'step' as a tensor
            buffers.setdefault(key, []).append(np.asarray(value, dtype=np.float64))
    return np.stack(checkpoints), {key: flat(values) for key, values in buffers.items()}


# -- learning-rate schedules -------------------------------------------------------------------
SCHEDULE_STEPS = 100
GROUP_LRS = (0.1, 0.01)  # two param groups, so per-group values are checked


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 10)


def _inverse(epoch):
    return 1 / (1 + 0.1 * epoch)


def _warmup_then_cosine(lr_scheduler, optimizer):
    return dict(schedulers=[lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=10),
                            lr_scheduler.CosineAnnealingLR(optimizer, T_max=60, eta_min=1e-3)], milestones=[10])


def _three_in_sequence(lr_scheduler, optimizer):
    return dict(schedulers=[lr_scheduler.ExponentialLR(optimizer, gamma=0.9),
                            lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.5),
                            lr_scheduler.LambdaLR(optimizer, _inverse)], milestones=[20, 55])


def _chained(lr_scheduler, optimizer):
    return dict(schedulers=[lr_scheduler.ExponentialLR(optimizer, gamma=0.97),
                            lr_scheduler.StepLR(optimizer, step_size=20, gamma=0.5),
                            lr_scheduler.LinearLR(optimizer, start_factor=0.2, total_iters=8)])


# name -> (scheduler class name, keyword arguments, or a function (lr_scheduler, optimizer) -> them)
SCHEDULE_CASES = {
    "step": ("StepLR", dict(step_size=30, gamma=0.1)),
    "step_7": ("StepLR", dict(step_size=7, gamma=0.5)),
    "multistep": ("MultiStepLR", dict(milestones=[30, 80], gamma=0.1)),
    "multistep_repeated": ("MultiStepLR", dict(milestones=[10, 50, 50, 90], gamma=0.5)),
    "exponential": ("ExponentialLR", dict(gamma=0.95)),
    "cosine": ("CosineAnnealingLR", dict(T_max=100)),
    "cosine_periodic": ("CosineAnnealingLR", dict(T_max=30, eta_min=0.001)),
    "warm_restarts": ("CosineAnnealingWarmRestarts", dict(T_0=10)),
    "warm_restarts_mult": ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=1e-4)),
    "lambda": ("LambdaLR", dict(lr_lambda=_warmup)),
    "lambda_per_group": ("LambdaLR", dict(lr_lambda=[_warmup, _inverse])),
    "linear_warmup": ("LinearLR", dict()),
    "linear": ("LinearLR", dict(start_factor=0.25, end_factor=0.5, total_iters=40)),
    "linear_decay": ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=80)),
    "polynomial": ("PolynomialLR", dict(total_iters=60, power=2.0)),
    "polynomial_linear": ("PolynomialLR", dict(total_iters=120)),
    "one_cycle": ("OneCycleLR", dict(max_lr=[1.0, 0.3], total_steps=101)),
    "one_cycle_linear_three_phase": ("OneCycleLR", dict(max_lr=0.5, epochs=12, steps_per_epoch=10, pct_start=0.25,
                                                        anneal_strategy="linear", three_phase=True,
                                                        div_factor=10.0, final_div_factor=100.0)),
    "cyclic": ("CyclicLR", dict(base_lr=0.001, max_lr=0.1, step_size_up=10)),
    "cyclic_triangular2": ("CyclicLR", dict(base_lr=[0.01, 0.001], max_lr=[0.2, 0.05], step_size_up=5,
                                            step_size_down=15, mode="triangular2", cycle_momentum=False)),
    "cyclic_exp_range": ("CyclicLR", dict(base_lr=0.001, max_lr=0.1, step_size_up=8, mode="exp_range",
                                          gamma=0.98)),
    "sequential_warmup_cosine": ("SequentialLR", _warmup_then_cosine),
    "sequential_three": ("SequentialLR", _three_in_sequence),
    "chained": ("ChainedScheduler", _chained),
}


def schedule_values(lib, optim_module, case):
    """Each group's lr after construction and after each of SCHEDULE_STEPS steps: shape (steps + 1, groups)."""
    class_name, kwargs = SCHEDULE_CASES[case]
    groups = [{"params": [lib.zeros(1, requires_grad=True)], "lr": lr} for lr in GROUP_LRS]
    opt = optim_module.SGD(groups, lr=GROUP_LRS[0])
    if callable(kwargs):
        kwargs = kwargs(optim_module.lr_scheduler, opt)
    scheduler = getattr(optim_module.lr_scheduler, class_name)(optimizer=opt, **kwargs)
    values = [scheduler.get_last_lr()]
    for _ in range(SCHEDULE_STEPS):
        opt.step()  # no gradients: nothing moves, but schedulers expect the optimizer to step first
        scheduler.step()
        values.append(scheduler.get_last_lr())
    return np.array(values, dtype=np.float64)


PLATEAU_STEPS = 80


def validation_loss(epoch):
    """A made-up validation loss: falls, then wobbles on plateaus (so the lr drops several times)."""
    return max(1.0 - 0.05 * epoch, 0.4) + 0.01 * ((epoch * 7) % 5) - 0.001 * min(epoch, 40)


# name -> ReduceLROnPlateau keyword arguments; mode='max' cases watch the negated loss
PLATEAU_CASES = {
    "plateau": dict(patience=5),
    "plateau_cooldown_min_lr": dict(factor=0.5, patience=2, cooldown=3, min_lr=[0.01, 0.002]),
    "plateau_max_abs": dict(mode="max", threshold=0.005, threshold_mode="abs", patience=3, factor=0.3),
    "plateau_eps": dict(factor=0.5, patience=1, eps=0.004),
}


def plateau_values(lib, optim_module, case):
    """Each group's lr after each of PLATEAU_STEPS epochs of step(metric): shape (steps, groups)."""
    kwargs = PLATEAU_CASES[case]
    groups = [{"params": [lib.zeros(1, requires_grad=True)], "lr": lr} for lr in GROUP_LRS]
    opt = optim_module.SGD(groups, lr=GROUP_LRS[0])
    scheduler = optim_module.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    sign = -1 if kwargs.get("mode") == "max" else 1
    values = []
    for epoch in range(PLATEAU_STEPS):
        opt.step()
        scheduler.step(sign * validation_loss(epoch))
        values.append(scheduler.get_last_lr())
    return np.array(values, dtype=np.float64)


# -- L-BFGS on the Rosenbrock function ---------------------------------------------------------
# name -> (start, LBFGS keyword arguments, number of step(closure) calls). Rosenbrock's curved
# valley amplifies rounding differences (PyTorch fuses its multiply-adds, NumPy does not): from
# some starts by 1e8 (e.g. (-1.5, 2) with the default lr=1 and no line search ends 1e-4 away),
# so these runs use starts where the two implementations agree to better than 1e-9.
LBFGS_CASES = {
    "fixed_step": ((-1.2, 1.0), dict(lr=0.5), 5),
    "fixed_step_default_lr": ((2.0, 2.0), dict(), 3),
    "fixed_step_short_history": ((2.0, 2.0), dict(lr=0.5, history_size=3), 4),
    "strong_wolfe": ((-1.2, 1.0), dict(line_search_fn="strong_wolfe"), 4),
    "strong_wolfe_short_history": ((-1.2, 1.0), dict(line_search_fn="strong_wolfe", history_size=2, max_iter=8),
                                   6),
}


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def run_lbfgs(lib, optim_module, case):
    """The loss returned by each step(closure) and x after it: arrays (steps,), (steps, 2); plus
    (func_evals, n_iter) from the state at the end."""
    start, kwargs, steps = LBFGS_CASES[case]
    x = lib.tensor(start, dtype=lib.float64, requires_grad=True)
    opt = optim_module.LBFGS([x], **kwargs)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    losses, points = [], []
    for _ in range(steps):
        losses.append(opt.step(closure).item())
        points.append(x.detach().numpy().copy())
    state = opt.state[x]
    return np.array(losses), np.array(points), (state["func_evals"], state["n_iter"])
