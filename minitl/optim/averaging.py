"""Averaging parameters and predictions: EMA / Polyak averaging and snapshot ensembles.

The lecture's last tricks for a better test score cost no extra training:

* Averaged parameters. The iterates x_t of SGD jump around the minimum; an
  average of them sits closer to it. The lecture's "Polyak averaging" keeps
  an exponential moving average, evaluated instead of x at test time:

      x_test = decay * x_test + (1 - decay) * x        (EMA, decay ~ 0.995-0.9999)

  Polyak and Juditsky's original average weighs all iterates equally:

      x_test = (x_1 + ... + x_n) / n,  i.e.  x_test += (x_n - x_test) / n     (PolyakAverage)

* Snapshot ensembles (Huang et al., 2017). With a cyclic schedule
  (CosineAnnealingWarmRestarts) the learning rate falls to its minimum at the
  end of every cycle, where the model settles into a minimum; the restart
  then kicks it out towards another one. Saving the parameters at each
  cycle's end gives an ensemble of different models from one training run,
  whose predictions are averaged.

Only parameters are averaged, not buffers such as BatchNorm's running
statistics. All classes take a Module (anything with ``.parameters()``) or
an iterable of tensors, and update their copies with array operations, so
they work on the GPU too.
"""
import contextlib

from minitl.autograd import Tensor, no_grad


def _parameter_list(model_or_params):
    if callable(getattr(model_or_params, "parameters", None)):
        params = list(model_or_params.parameters())
    elif isinstance(model_or_params, Tensor):
        params = [model_or_params]
    else:
        params = list(model_or_params)
    if not params:
        raise ValueError("got no parameters to average")
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected a Module or an iterable of Tensors, got an item of type {type(p).__name__}")
    return params


@contextlib.contextmanager
def swapped_in(params, arrays):
    """Inside the block the parameters hold `arrays`; afterwards their own values, bit for bit.

    Values are copied into the parameters' arrays (not rebound), so every
    reference to a parameter sees them.
    """
    backups = [p.data.copy() for p in params]
    try:
        for p, values in zip(params, arrays):
            p.data[...] = values
        yield
    finally:
        for p, backup in zip(params, backups):
            p.data[...] = backup


class _ParameterAverage:
    """A running average of some parameters; subclasses say how much weight a new value gets."""

    def __init__(self, model_or_params):
        self.params = _parameter_list(model_or_params)
        self.averaged = [p.data.copy() for p in self.params]  # starts at the current values
        self.num_updates = 0

    def _weight(self):
        raise NotImplementedError

    def update(self):
        """Fold the parameters' current values into the average (call after optimizer.step())."""
        self.num_updates += 1
        weight = self._weight()
        for average, p in zip(self.averaged, self.params):
            average += weight * (p.data - average)

    def copy_to(self, params=None):
        """Write the averages into `params` (default: the averaged parameters themselves)."""
        params = self.params if params is None else _parameter_list(params)
        if len(params) != len(self.averaged):
            raise ValueError(f"copy_to: got {len(params)} parameters, the average has {len(self.averaged)}")
        for p, average in zip(params, self.averaged):
            if p.shape != average.shape:
                raise ValueError(f"copy_to: parameter of shape {p.shape}, average of shape {average.shape}")
            p.data[...] = average

    def average_parameters(self):
        """Context manager: evaluate with the averaged values, then get the trained ones back exactly.

            with ema.average_parameters():
                val_loss = evaluate(model)
        """
        return swapped_in(self.params, self.averaged)

    def state_dict(self):
        return {"averaged": [a.copy() for a in self.averaged], "num_updates": self.num_updates}

    def load_state_dict(self, state):
        averaged = state["averaged"]
        if len(averaged) != len(self.averaged) or any(a.shape != b.shape for a, b in zip(averaged, self.averaged)):
            raise ValueError("load_state_dict: the saved averages do not match these parameters' shapes")
        for target, saved in zip(self.averaged, averaged):
            target[...] = saved
        self.num_updates = state["num_updates"]


class EMA(_ParameterAverage):
    """Exponential moving average: ``average += (1 - decay) * (x - average)`` at each ``update()``.

    The average starts at the parameters' values when the EMA is created.
    With decay d it remembers about the last 1 / (1 - d) updates.
    """

    def __init__(self, model_or_params, decay=0.999):
        if not 0 <= decay <= 1:
            raise ValueError(f"EMA: invalid decay={decay!r}: must be in [0, 1]")
        super().__init__(model_or_params)
        self.decay = decay

    def _weight(self):
        return 1 - self.decay


class PolyakAverage(_ParameterAverage):
    """The plain mean of the parameters over all ``update()`` calls: ``average += (x - average) / n``."""

    def _weight(self):
        return 1 / self.num_updates


class SnapshotEnsemble:
    """Snapshots of the parameters at the end of each warm-restart cycle, and their averaged predictions.

        sched = CosineAnnealingWarmRestarts(opt, T_0=10)
        snapshots = SnapshotEnsemble(model, sched)
        for epoch in range(30):
            train_one_epoch(model, opt)
            sched.step()
            snapshots.step()              # snapshots after epochs 10, 20, 30
        probs = snapshots.predict(lambda x: F.softmax(model(x), dim=1), x_test)

    A cycle has ended when the scheduler's position in its cycle (``T_cur``)
    goes down: that is the restart. This works for integer and fractional
    (``sched.step(epoch + i / n)``) steps alike. ``max_snapshots`` keeps only
    the newest ones.
    """

    def __init__(self, model_or_params, scheduler, max_snapshots=None):
        if not hasattr(scheduler, "T_cur"):
            raise TypeError(f"SnapshotEnsemble needs a warm-restart scheduler (with T_cur), "
                            f"got {type(scheduler).__name__}")
        self.params = _parameter_list(model_or_params)
        self.scheduler = scheduler
        self.max_snapshots = max_snapshots
        self.snapshots = []
        self._last_t_cur = scheduler.T_cur

    def cycle_ended(self):
        """True when the last ``scheduler.step()`` restarted the schedule (checks once per step)."""
        restarted = self.scheduler.T_cur < self._last_t_cur
        self._last_t_cur = self.scheduler.T_cur
        return restarted

    def step(self):
        """Call after each ``scheduler.step()``: snapshots at a cycle's end; returns whether it did."""
        if not self.cycle_ended():
            return False
        self.snapshot()
        return True

    def snapshot(self):
        """Save a copy of the parameters' current values."""
        self.snapshots.append([p.data.copy() for p in self.params])
        if self.max_snapshots is not None and len(self.snapshots) > self.max_snapshots:
            self.snapshots.pop(0)

    def predict(self, fn, *args, **kwargs):
        """The mean of ``fn(*args, **kwargs)`` over the snapshots, each swapped into the parameters in turn.

        `fn` returns a Tensor, an array or a number (e.g. class probabilities);
        the parameters are restored afterwards.
        """
        if not self.snapshots:
            raise RuntimeError("SnapshotEnsemble.predict: no snapshot taken yet")
        outputs = []
        with no_grad():
            for values in self.snapshots:
                with swapped_in(self.params, values):
                    outputs.append(fn(*args, **kwargs))
            return sum(outputs[1:], outputs[0]) / len(outputs)
