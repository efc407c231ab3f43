"""Watching a network train from the inside: gradient norms, update/weight ratios, activation statistics.

The loss curve says that something is wrong; these numbers say where. Ask
``fit`` for them (off by default) and plot them with ``plot_history``:

    history = fit(model, loader, optimizer, epochs=3, record_stats=10)   # every 10th step
    history[0]["stats"][0]   # {"step": 0, "loss": 2.31, "grad_norm": {"0.weight": 0.41, ...},
                             #  "update_ratio": {...}, "activation_mean": {"0": ...}, "activation_std": {...}}
    plot_history(history, "curves.png")                                  # adds the panels below

For each trainable parameter tensor w whose gradient g was computed:

    grad_norm     ||g||: the gradient of the loss (the optimizer adds weight decay and momentum later)
    update_ratio  ||w_after - w_before|| / ||w_before||: the step the optimizer really took, relative to
                  the weights (for plain SGD ||lr * g|| / ||w||). The rule of thumb is about 1e-3: much
                  smaller and the learning rate is too low, near 1e-1 it is too high. None where w is 0.

and for each watched module (by default every leaf module: every Linear, Conv2d, ReLU, Tanh...) the mean
and standard deviation of its output on the step's batch: the numbers behind the lecture's activation
histograms (vanishing, saturating or healthy layers).

minitl has no forward hooks. On a recorded step the watched modules get a wrapped ``forward`` for the
length of that one forward pass: an instance attribute that shadows the class's method and is removed
afterwards. The parameters are copied before the optimizer's step so the actual update can be measured.
A step that is not recorded costs a counter check.
"""
import contextlib
import math

from minitl import backend
from minitl.autograd import Tensor


class StatsRecorder:
    """Records statistics of every `every`-th training step of `model`; ``fit(record_stats=...)`` drives it.

    In a training loop of your own:

        recorder = StatsRecorder(model, every=10)
        with recorder.watch():            # the forward pass
            loss = loss_fn(model(x), y)
        loss.backward(); optimizer.step()
        recorder.after_step(loss.item())  # after the optimizer's step
        stats = recorder.take()           # the records so far, a list of dicts

    `modules`: a dict name -> module to watch (default: the model's leaf modules).
    """

    def __init__(self, model, every=1, modules=None):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"record statistics every N steps needs a positive integer N, got {every!r}")
        self.every = int(every)
        self.parameters = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        self.modules = dict(_leaf_modules(model) if modules is None else modules)
        self.steps = 0  # training steps seen
        self.records = []  # recorded since the last take()
        self._weights_before = None  # copies of the parameters, during a recorded step
        self._activations = {}

    @contextlib.contextmanager
    def watch(self):
        """Around one training step's forward pass: on a recorded step, watch outputs and copy the weights."""
        due = self.steps % self.every == 0
        self.steps += 1
        self._weights_before = None
        if not due:
            yield
            return
        self._weights_before = [p.data.copy() for _, p in self.parameters]
        self._activations = {}
        shadowed = {name: module.__dict__.get("forward") for name, module in self.modules.items()}
        for name, module in self.modules.items():
            object.__setattr__(module, "forward", self._recording_forward(name, module.forward))
        try:
            yield
        finally:
            for name, module in self.modules.items():
                del module.__dict__["forward"]
                if shadowed[name] is not None:
                    object.__setattr__(module, "forward", shadowed[name])

    def _recording_forward(self, name, forward):
        def recording_forward(*args, **kwargs):
            output = forward(*args, **kwargs)
            if isinstance(output, Tensor) and name not in self._activations:  # a module called twice: the first call
                self._activations[name] = _mean_and_std(output.data)
            return output
        return recording_forward

    def after_step(self, loss):
        """After ``optimizer.step()``: add the step's record if it was a recorded one."""
        if self._weights_before is None:
            return
        grad_norm, update_ratio = {}, {}
        for (name, p), before in zip(self.parameters, self._weights_before):
            if p.grad is None:  # the optimizer skipped it
                continue
            grad_norm[name] = _norm(p.grad.data)
            weight_norm = _norm(before)
            update = backend.get_array_module(before).subtract(p.data, before, out=before)  # the copy is not needed again
            update_ratio[name] = _norm(update) / weight_norm if weight_norm > 0 else None
        self.records.append({"step": self.steps - 1, "loss": float(loss), "grad_norm": grad_norm,
                             "update_ratio": update_ratio,
                             "activation_mean": {name: mean for name, (mean, _) in self._activations.items()},
                             "activation_std": {name: std for name, (_, std) in self._activations.items()}})
        self._weights_before = None

    def take(self):
        """The records since the last call (and forget them): a list of dicts, one per recorded step."""
        records, self.records = self.records, []
        return records


def _leaf_modules(model):
    """(name, module) for every module without submodules; a model that is itself a leaf is named by its type."""
    return [(name or type(module).__name__, module) for name, module in model.named_modules()
            if not any(True for _ in module.children())]


def _mean_and_std(array):
    """(mean, population std) as floats; about 3x faster than ``array.std()``, which matters on small steps."""
    mean = float(array.mean())
    return mean, _norm(array - mean) / math.sqrt(array.size) if array.size else math.nan


def _norm(array):
    flat = array.ravel(order="K")  # in memory order: no copy, also for a transposed gradient
    return math.sqrt(float(flat.dot(flat)))


# (statistic, which of its names, axis label, log scale): the update ratios and gradient norms of weights and
# of biases apart, since a bias often starts at zero (no ratio) and stays small, so its ratio is on another
# scale than the weights'; the rule of thumb of about 1e-3 is about weights.
STAT_PANELS = (("update_ratio", "weights", "update / weight ratio ||dW|| / ||W||", True),
               ("update_ratio", "biases", "update / bias ratio ||db|| / ||b||", True),
               ("grad_norm", "weights", "gradient norm ||g|| of the weights", True),
               ("grad_norm", "biases", "gradient norm ||g|| of the biases", True),
               ("activation_mean", "modules", "activation mean", False),
               ("activation_std", "modules", "activation std", False))


def _kind(key, name):
    """Which panel a statistic's name goes to: "biases" (a parameter named ``*.bias``), "weights" (any other
    parameter) or "modules" (activations are recorded per module)."""
    if key.startswith("activation"):
        return "modules"
    return "biases" if name.rpartition(".")[2] == "bias" else "weights"


def stat_series(stats):
    """The lines of each panel of STAT_PANELS: a list, per panel, of (name, steps, values).

    `stats` is a list of step records (``history[i]["stats"]`` joined over epochs). Steps where a value is
    None (the update ratio of a zero tensor) are left out.
    """
    panels = []
    for key, kind, _, _ in STAT_PANELS:
        names = [name for name in dict.fromkeys(name for record in stats for name in record[key])
                 if _kind(key, name) == kind]
        lines = []
        for name in names:
            points = [(record["step"], record[key][name]) for record in stats if record[key].get(name) is not None]
            if points:
                lines.append((name, *map(list, zip(*points))))
        panels.append(lines)
    return panels


def draw_stats(axes, stats):
    """Draw recorded step statistics on six axes, one per entry of STAT_PANELS (see stat_series).

    One line per parameter or module, coloured from first layer (dark) to last (light).
    """
    from matplotlib import colormaps

    for axis, (key, kind, label, log), lines in zip(axes, STAT_PANELS, stat_series(stats)):
        colors = colormaps["viridis"].resampled(max(len(lines), 2))
        for i, (name, steps, values) in enumerate(lines):
            axis.plot(steps, values, color=colors(i), label=name, linewidth=1)
        if (key, kind) == ("update_ratio", "weights"):
            axis.axhline(1e-3, color="red", linestyle="--", linewidth=1, label="1e-3 (rule of thumb)")
        axis.set(xlabel="training step", ylabel=label, title=label, yscale="log" if log else "linear")
        axis.xaxis.get_major_locator().set_params(integer=True)  # steps are whole numbers
        axis.grid(alpha=0.3)
        if lines:
            axis.legend(fontsize=6, ncols=2 if len(lines) > 8 else 1)
