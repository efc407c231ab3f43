"""A training loop to watch: fit, evaluate, a per-epoch history and learning-curve plots.

    history = fit(model, train_loader, optimizer, epochs=5, val_loader=val_loader)
    plot_history(history, "curves.png")

Each epoch records the mean training loss and accuracy, the validation loss
and accuracy (when a validation loader is given) and the learning rate of
the optimizer's last param group. With ``record_stats=N`` every N-th step
also records gradient norms, update/weight ratios and activation statistics
(see ``minitl.lab.monitor``).

Faults stop training with an error that says what happened, and never
leave bad state behind:

* a NaN or infinite training loss, or BatchNorm running statistics that
  became non-finite, raise TrainingDiverged: when the input batch itself
  holds NaN or inf the message says so, otherwise it suggests a lower
  learning rate. The buffers (running statistics) are restored to their
  values before the failing step, so the model is as it was;
* a NaN or infinite validation loss, or parameters or buffers that are not
  finite at the end of an epoch, raise TrainingDiverged before the
  checkpoint is written, so the last good checkpoint is kept;
* a loader that yields no batches is a ValueError, not a division by zero.

Checkpoints resume. With ``checkpoint=path`` every epoch ends by writing the
whole training state, atomically (``minitl.save``: a kill leaves the last
epoch's file whole):

    {"epoch": 3, "steps": 240, "model": ..., "optimizer": ..., "scheduler": ... or None,
     "rng": [minitl's shared generator, the loader's own], "history": [...]}

and ``fit(..., resume=path)`` restores all of it and trains from the next
epoch on, so a run killed at any point and resumed ends with exactly the
weights of a run never interrupted (the same shuffles, dropout masks and
momentum; ``tests/test_untrusted_round3.py`` kills one with SIGKILL).

Early stopping (``EarlyStopping``) ends a run when its validation score has
stopped improving and gives back the best epoch's weights.
"""
import contextlib
import math

from minitl import backend, random
from minitl.autograd import no_grad
from minitl.io import load, save
from minitl.lab.monitor import StatsRecorder, draw_stats
from minitl.nn import functional as F


class TrainingDiverged(RuntimeError):
    """The loss, or the model's state, became NaN or infinite."""


def _is_finite(array):
    xp = backend.get_array_module(array)
    return array.dtype.kind not in "fc" or bool(xp.isfinite(array).all())


def _non_finite_state(model):
    """Names of the model's parameters and buffers holding NaN or inf."""
    return [name for name, tensor in model._state_tensors() if not _is_finite(tensor.data)]


def _divergence(epoch, step, loss, images, model):
    """The TrainingDiverged for a failed step: the input batch's fault, or the run's."""
    where = f"at epoch {epoch}, step {step}"
    if not _is_finite(getattr(images, "data", images)):
        return TrainingDiverged(f"the input batch {where} is not finite (it holds NaN or inf): check the data "
                                "and its transforms; the model is unchanged")
    if not math.isfinite(loss):
        return TrainingDiverged(f"training diverged {where}: the loss is {loss}. "
                                "Try a lower learning rate (e.g. 10x lower).")
    return TrainingDiverged(f"training diverged {where}: {', '.join(_non_finite_state(model))} became NaN or "
                            "infinite (inputs of huge magnitude?); the running statistics are restored")


def _progress(iterable, enabled, **options):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, leave=False, **options)


def evaluate(model, loader, loss_fn=F.cross_entropy, progress=False):
    """(mean loss, accuracy) of `model` over `loader`, in eval mode and without a graph."""
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        with no_grad():
            for images, labels in _progress(loader, progress, desc="evaluate"):
                logits = model(images)
                total_loss += loss_fn(logits, labels).item() * len(labels)
                correct += int((logits.argmax(dim=1) == labels).numpy().sum())
                count += len(labels)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the loader yielded no batches (an empty dataset?)")
    return total_loss / count, correct / count


def _generators(loader):
    """The random generators an epoch draws from: minitl's shared one, and the loader's own when it has one."""
    return [random.generator()] + [generator for generator in [getattr(loader, "generator", None)]
                                   if generator is not None]


def _training_state(epoch, steps, model, optimizer, scheduler, loader, history):
    """Everything an epoch's end leaves that the next epochs depend on (see the module docstring)."""
    return {"epoch": epoch, "steps": steps, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": [generator.bit_generator.state for generator in _generators(loader)], "history": history}


def _resume(path, model, optimizer, scheduler, loader):
    """Restore the training state saved at `path` by fit; return (its epoch, its steps, its history)."""
    state = load(path)
    if not (isinstance(state, dict) and {"epoch", "steps", "model", "optimizer", "scheduler", "rng", "history"} <= set(state)):
        raise ValueError(f"fit: {path} is not a training checkpoint written by fit(checkpoint=...)")
    if (state["scheduler"] is None) != (scheduler is None):
        raise ValueError(f"fit: {path} was written {'without' if state['scheduler'] is None else 'with'} a "
                         "scheduler; resume with the same setup")
    generators = _generators(loader)
    if len(state["rng"]) != len(generators):
        raise ValueError(f"fit: {path} holds {len(state['rng'])} random generators' states, this run draws "
                         f"from {len(generators)} (a loader with or without its own seed?)")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    for generator, saved in zip(generators, state["rng"]):
        generator.bit_generator.state = saved
    return state["epoch"], state["steps"], list(state["history"])


def fit(model, loader, optimizer, epochs, loss_fn=F.cross_entropy, val_loader=None, scheduler=None,
        checkpoint=None, progress=True, record_stats=False, resume=None):
    """Train for `epochs` epochs; return the history, a list with one dict per epoch.

    `scheduler` (optional) steps once per epoch; `checkpoint` (optional path)
    receives the whole training state after every epoch via ``minitl.save``
    (see the module docstring; its "model" is the model's state_dict);
    `resume` (optional path, usually the same) continues the run saved there,
    from the epoch after its last, up to `epochs` in all.
    `record_stats` (False, True or N): record gradient norms, update/weight
    ratios and activation statistics every N-th step (True: every step), under
    "stats" in each epoch's dict (see ``minitl.lab.monitor``).
    """
    recorder = StatsRecorder(model, every=record_stats) if record_stats else None
    done, steps, history = _resume(resume, model, optimizer, scheduler, loader) if resume else (0, 0, [])
    if recorder is not None:
        recorder.steps = steps  # records every N-th step of the whole run, resumed or not
    for epoch in range(done + 1, epochs + 1):
        model.train()
        total_loss, correct, count = 0.0, 0, 0
        for step, (images, labels) in enumerate(_progress(loader, progress, desc=f"epoch {epoch}/{epochs}")):
            buffers = [(buffer, buffer.data.copy()) for buffer in model.buffers()]  # restored if the step fails
            with recorder.watch() if recorder is not None else contextlib.nullcontext():
                logits = model(images)
            loss = loss_fn(logits, labels)
            value = loss.item()
            if not (math.isfinite(value) and all(_is_finite(buffer.data) for buffer, _ in buffers)):
                error = _divergence(epoch, step, value, images, model)
                for buffer, saved in buffers:
                    buffer.data[...] = saved
                raise error
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if recorder is not None:
                recorder.after_step(value)
            total_loss += value * len(labels)
            correct += int((logits.detach().argmax(dim=1) == labels).numpy().sum())
            count += len(labels)
        if count == 0:
            raise ValueError("fit: the training loader yielded no batches (an empty dataset, or drop_last=True "
                             "with fewer samples than batch_size?)")
        record = {"epoch": epoch, "loss": total_loss / count, "accuracy": correct / count,
                  "lr": optimizer.param_groups[-1]["lr"]}
        if recorder is not None:
            record["stats"] = recorder.take()
        if val_loader is not None:
            record["val_loss"], record["val_accuracy"] = evaluate(model, val_loader, loss_fn)
            if not math.isfinite(record["val_loss"]):
                raise TrainingDiverged(f"the validation loss is {record['val_loss']} after epoch {epoch}"
                                       + (f"; {checkpoint} keeps the last good epoch" if checkpoint else ""))
        bad = _non_finite_state(model)
        if bad:
            raise TrainingDiverged(f"after epoch {epoch}, {', '.join(bad)} hold NaN or inf"
                                   + (f"; not saved: {checkpoint} keeps the last good epoch" if checkpoint else ""))
        if scheduler is not None:
            scheduler.step()
        history.append(record)
        if checkpoint is not None:
            save(_training_state(epoch, steps, model, optimizer, scheduler, loader, history), checkpoint)
    return history


class EarlyStopping:
    """Stop training once the validation score has not improved for `patience` epochs; keep the best weights.

        stopper = EarlyStopping(patience=3)
        for epoch in range(max_epochs):
            ...                                          # one epoch of training
            if stopper.step(validation_accuracy, model):
                break
        stopper.restore(model)                           # the weights of stopper.best_epoch

    `mode` 'max' for a score (accuracy), 'min' for a loss. A value is an improvement when it beats the best
    so far by more than `min_delta`. After epoch t, with b the best epoch so far, training stops when
    t - b >= patience: the run has spent `patience` epochs on no gain. The validation set that decides when
    to stop is then part of training; report results on other (test) data.
    """

    def __init__(self, patience, mode="max", min_delta=0.0):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be a positive integer, got {patience!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.patience, self.mode, self.min_delta = patience, mode, min_delta
        self.epochs, self.best_epoch, self.best_score, self.best_state = 0, 0, None, None

    def _improves(self, score):
        if self.best_score is None:
            return True
        if self.mode == "max":
            return score > self.best_score + self.min_delta
        return score < self.best_score - self.min_delta

    def step(self, score, model):
        """Record one epoch's validation `score` (copying `model`'s state when it is the best); True: stop now."""
        score = float(score)
        if not math.isfinite(score):
            raise ValueError(f"EarlyStopping: the validation score after epoch {self.epochs + 1} is {score}")
        self.epochs += 1
        if self._improves(score):
            self.best_epoch, self.best_score = self.epochs, score
            self.best_state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        return self.epochs - self.best_epoch >= self.patience

    def restore(self, model):
        """Load the best epoch's parameters and buffers into `model`."""
        if self.best_state is None:
            raise RuntimeError("EarlyStopping.restore: no epoch was recorded (call step once per epoch first)")
        model.load_state_dict(self.best_state)
        return model


def plot_history(history, path, title=None, chance=None):
    """Save learning curves (loss and accuracy per epoch, train and validation when recorded) as a PNG.

    Accuracy is drawn in percent. The train curves are what ``fit`` records: the mean over the epoch's
    batches in train mode while the weights still change (a running average, labelled so), the validation
    ones are measured at the epoch's end in eval mode. `chance` (a fraction, e.g. 1 / number of classes)
    draws the accuracy of guessing as a line. When the history has recorded statistics
    (``fit(record_stats=...)``), three more rows show update/weight ratios and gradient norms (weights
    and biases apart) and activation means and stds against the training step.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, no screen needed
    from matplotlib.ticker import MaxNLocator

    stats = [step for record in history for step in record.get("stats", [])]
    figure = Figure(figsize=(10, 15 if stats else 4))
    axes = figure.subplots(4 if stats else 1, 2, squeeze=False)
    loss_axis, accuracy_axis = axes[0]
    epochs = [record["epoch"] for record in history]
    for key, label, axis, scale in [("loss", "train (running mean over the epoch)", loss_axis, 1),
                                    ("val_loss", "validation (at the epoch's end)", loss_axis, 1),
                                    ("accuracy", "train (running mean over the epoch)", accuracy_axis, 100),
                                    ("val_accuracy", "validation (at the epoch's end)", accuracy_axis, 100)]:
        if key in history[0]:
            axis.plot(epochs, [scale * record[key] for record in history], marker="o", label=label)
    if chance is not None:
        accuracy_axis.axhline(100 * chance, color="grey", linestyle=":", label=f"chance ({100 * chance:.0f} %)")
    loss_axis.set(xlabel="epoch", ylabel="loss", title="loss")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 102))
    for axis in (loss_axis, accuracy_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole epochs only
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    if stats:
        draw_stats(axes[1:].ravel(), stats)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
