"""Model ensembles: average the predicted class probabilities of several models.

The lecture's cheapest gain in test accuracy: train several models and
average their softmax outputs at test time,

    p(y | x) = (1 / K) sum_k softmax(f_k(x))

Their errors are partly independent, so the average is right more often than
the typical member (a few per cent, usually). Three ways to get the members:

* independent models: different random initialisations (and data orders),
  ``average_probabilities(models, images)``;
* a snapshot ensemble (Huang et al., 2017): one training run with a cyclic
  cosine schedule, a snapshot of the weights at the end of each cycle, where
  the learning rate is smallest. ``SnapshotSchedule`` drives
  ``optim.lr_scheduler.CosineAnnealingWarmRestarts`` once per batch and
  keeps the snapshots in an ``optim.averaging.SnapshotEnsemble``;
* Polyak / EMA averaging: not an ensemble of predictions but of weights, one
  model evaluated with the moving average of its parameters
  (``ema_probabilities`` with an ``optim.averaging.EMA``).

Snapshots and averages hold parameters only: buffers such as BatchNorm's
running statistics are the model's current ones, so these two suit models
without batch norm best (or recompute the statistics for each snapshot).
"""
import numpy as np

from minitl.autograd import Tensor, no_grad
from minitl.nn import functional as F
from minitl.optim.averaging import SnapshotEnsemble
from minitl.optim.lr_scheduler import CosineAnnealingWarmRestarts


def predict_probabilities(model, images, batch_size=1000):
    """softmax(model(images)) over the classes (dim 1) as a NumPy array: eval mode, no graph, in batches."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            parts = [F.softmax(model(images[start:start + batch_size]), dim=1).numpy()
                     for start in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(parts)


def average_probabilities(models, images, batch_size=1000):
    """The mean over `models` of their predicted class probabilities: the ensemble's prediction."""
    models = list(models)
    if not models:
        raise ValueError("average_probabilities: got no models")
    total = predict_probabilities(models[0], images, batch_size)
    for model in models[1:]:
        total = total + predict_probabilities(model, images, batch_size)
    return total / len(models)


def ema_probabilities(ema, model, images, batch_size=1000):
    """Class probabilities of `model` with the averaged weights of `ema` swapped in (then swapped back)."""
    with ema.average_parameters():
        return predict_probabilities(model, images, batch_size)


def accuracy(probabilities, labels):
    """The fraction of rows whose most probable class is the label (labels: an array or a Tensor)."""
    labels = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    return float((np.asarray(probabilities).argmax(axis=1) == labels).mean())


class SnapshotSchedule:
    """Cosine annealing with a restart every `epochs_per_cycle` epochs, stepped per batch, and a snapshot
    of `model`'s parameters at the end of each cycle.

        schedule = SnapshotSchedule(model, optimizer, epochs_per_cycle=5, batches_per_epoch=len(loader))
        for epoch in range(15):
            for images, labels in loader:
                ...; optimizer.step()
                schedule.step()                 # lr down the cosine; snapshot when a cycle ends
        probabilities = schedule.predict_probabilities(model, test_images)   # 3 snapshots averaged

    Within cycle i the learning rate falls from the optimizer's lr to
    `eta_min` as lr_t = eta_min + (lr - eta_min)(1 + cos(pi t / T)) / 2, with t
    the (fractional) epochs since the restart; the snapshot is taken after
    the cycle's last update, where the rate is lowest.
    """

    def __init__(self, model, optimizer, epochs_per_cycle, batches_per_epoch, eta_min=0.0, max_snapshots=None):
        if batches_per_epoch < 1:
            raise ValueError(f"SnapshotSchedule: batches_per_epoch must be positive, got {batches_per_epoch}")
        self.scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=epochs_per_cycle, eta_min=eta_min)
        self.ensemble = SnapshotEnsemble(model, self.scheduler, max_snapshots)
        self.batches_per_epoch = batches_per_epoch
        self.batches = 0

    def step(self):
        """Call after every optimizer step; returns True when it took a snapshot."""
        self.batches += 1
        self.scheduler.step(self.batches / self.batches_per_epoch)
        return self.ensemble.step()

    @property
    def snapshots(self):
        return self.ensemble.snapshots

    def predict_probabilities(self, model, images, batch_size=1000):
        """The snapshots' class probabilities, averaged (each swapped into `model` in turn)."""
        return self.ensemble.predict(predict_probabilities, model, images, batch_size)
