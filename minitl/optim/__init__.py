"""Optimizers: one update rule per file, each with its formula in the docstring.

    opt = minitl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

Update rules, defaults, state names and state_dict layout are PyTorch's
(step-for-step parity with torch.optim). ``lr_scheduler`` holds the
learning-rate schedules, ``averaging`` EMA / Polyak averaging and snapshot
ensembles, ``newton`` Newton's method for small problems.
"""
from minitl.optim import averaging, lr_scheduler
from minitl.optim.adadelta import Adadelta
from minitl.optim.adagrad import Adagrad
from minitl.optim.adam import Adam, AdamW
from minitl.optim.adamax import Adamax
from minitl.optim.averaging import EMA, PolyakAverage, SnapshotEnsemble
from minitl.optim.clip import clip_grad_norm_, clip_grad_value_
from minitl.optim.lbfgs import LBFGS
from minitl.optim.nadam import NAdam
from minitl.optim.newton import newton_minimize, newton_step, top_hessian_eigenvalue
from minitl.optim.optimizer import Optimizer
from minitl.optim.radam import RAdam
from minitl.optim.rmsprop import RMSprop
from minitl.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "RAdam", "Adadelta",
           "Adamax", "LBFGS", "clip_grad_norm_", "clip_grad_value_",
           "newton_minimize", "newton_step", "top_hessian_eigenvalue", "EMA", "PolyakAverage", "SnapshotEnsemble",
           "lr_scheduler", "averaging"]
