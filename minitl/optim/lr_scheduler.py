"""Learning-rate schedules: change each group's ``lr`` as training goes on.

Call ``scheduler.step()`` once per epoch (or per iteration, if the schedule
is counted in iterations), after ``optimizer.step()``:

    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(90):
        train_one_epoch(model, opt)
        sched.step()

Creating a scheduler stores each group's starting learning rate as
``group['initial_lr']`` (the ``base_lrs``), sets ``last_epoch`` to 0 and the
lr to its epoch-0 value. ``last_epoch=k`` resumes a run: the groups must then
already hold ``initial_lr`` (from a loaded optimizer state_dict).

Written in epochs e = last_epoch, base lr eta_0:

    StepLR                       eta_0 * gamma ** (e // step_size)
    MultiStepLR                  eta_0 * gamma ** (number of milestones <= e)
    ExponentialLR                eta_0 * gamma ** e
    CosineAnnealingLR            eta_min + (eta_0 - eta_min) * (1 + cos(pi * e / T_max)) / 2
    CosineAnnealingWarmRestarts  the same with e replaced by T_cur, the epochs since the last restart,
                                 and T_max by T_i, the current cycle's length (T_0, T_0*T_mult, ...)
    LambdaLR                     eta_0 * lr_lambda(e)

As in PyTorch, StepLR, MultiStepLR, ExponentialLR and CosineAnnealingLR
compute each lr from the group's current one (the "chainable" form: for
cosine annealing, lr_e = eta_min + (lr_{e-1} - eta_min) * (1 + cos(pi e/T)) /
(1 + cos(pi (e-1)/T))), which gives PyTorch's values to the last bit and lets
two schedulers act on the same optimizer.
"""
import math
from collections import Counter

from minitl.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses define ``get_lr()``, the new lr of every group after ``last_epoch`` moved on."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs "
                                   f"'initial_lr' in param_groups[{i}]: load the optimizer's state_dict first, "
                                   "or start with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._is_initial = True  # the constructor's step sets the starting lr
        self.step()
        self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def step(self):
        """Move on one epoch and set every group's lr."""
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _set_lrs(self, lrs):
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The learning rates set by the last ``step()``, one per group."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer (which has its own state_dict)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(last_epoch); one function, or a list with one per group."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"LambdaLR: expected {len(optimizer.param_groups)} lr_lambdas "
                                 f"(one per param group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        """As the base class's, without the functions (they cannot be saved as data)."""
        return {key: value for key, value in super().state_dict().items() if key != "lr_lambdas"}


class StepLR(LRScheduler):
    """Multiply the lr by `gamma` every `step_size` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the lr by `gamma` at each milestone epoch (a milestone listed twice applies twice)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the lr by `gamma` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from initial_lr down to `eta_min` over `T_max` epochs (then back up, periodically).

    Uses PyTorch's recursive form (see the module docstring); at the bottom of
    the cosine, where that form would divide by zero, the lr climbs back by the
    closed form's first increment.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if (e - 1 - T) % (2 * T) == 0:  # just past the minimum
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, lr in zip(self.base_lrs, self._current_lrs())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min
                for lr in self._current_lrs()]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing that restarts at initial_lr after T_0 epochs, then T_0 * T_mult, T_0 * T_mult**2, ...

    ``T_cur`` counts the epochs since the last restart and ``T_i`` is the
    current cycle's length. ``step(epoch)`` may be given a fractional epoch
    (e.g. ``epoch + i / iters_per_epoch``) to anneal within an epoch.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        if not (isinstance(T_0, int) and T_0 > 0):
            raise ValueError(f"CosineAnnealingWarmRestarts: expected a positive integer T_0, got {T_0!r}")
        if not (isinstance(T_mult, int) and T_mult >= 1):
            raise ValueError(f"CosineAnnealingWarmRestarts: expected an integer T_mult >= 1, got {T_mult!r}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch=None):
        """Move on one epoch, or to `epoch` (which may be fractional), and set every group's lr."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:  # restart
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts: expected a non-negative epoch, got {epoch!r}")
            if epoch < self.T_0:
                self.T_i, self.T_cur = self.T_0, epoch
            elif self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                # cycles 0..n-1 last T_0 * (T_mult**n - 1) / (T_mult - 1) epochs in all
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** n
        self.last_epoch = math.floor(epoch)
        self._set_lrs(self.get_lr())
