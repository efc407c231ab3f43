"""Neural networks: ``Module`` and ``Parameter``, containers, layers, losses, ``functional``, ``init``, ``utils``.

    from minitl import nn
    import minitl.nn.functional as F

The layers are Modules over ``functional``; ``module``, ``containers`` and
``init`` import nothing from the rest of ``nn``, so ``functional`` may import
from them without a cycle.
"""
from minitl.nn import functional, init, utils
from minitl.nn.containers import ModuleDict, ModuleList, Sequential
from minitl.nn.embedding import Embedding
from minitl.nn.fractional_pool import FractionalMaxPool2d
from minitl.nn.layer_norm import GroupNorm, LayerNorm
from minitl.nn.layers import (
                              ELU,
                              GELU,
                              AdaptiveAvgPool2d,
                              AdaptiveMaxPool2d,
                              AvgPool2d,
                              BatchNorm1d,
                              BatchNorm2d,
                              Conv1d,
                              Conv2d,
                              ConvTranspose2d,
                              Dropout,
                              Dropout2d,
                              Flatten,
                              Hardtanh,
                              Identity,
                              LeakyReLU,
                              Linear,
                              LogSoftmax,
                              MaxPool2d,
                              MaxUnpool2d,
                              PReLU,
                              ReLU,
                              Sigmoid,
                              SiLU,
                              Softmax,
                              Softplus,
                              Tanh,
                              Unflatten,
                              Upsample,
)
from minitl.nn.loss_modules import (
                              BCELoss,
                              BCEWithLogitsLoss,
                              CrossEntropyLoss,
                              HuberLoss,
                              KLDivLoss,
                              L1Loss,
                              MSELoss,
                              MultiMarginLoss,
                              NLLLoss,
                              SmoothL1Loss,
)
from minitl.nn.module import IncompatibleKeys, Module, Parameter
from minitl.nn.regularization import DropConnectLinear, StochasticDepth, drop_connect_linear, stochastic_depth
