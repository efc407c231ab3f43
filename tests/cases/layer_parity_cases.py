"""Issue 32's layers, each built once for torch.nn and minitl.nn (pass either as `nn`).

Each case is (name, build(nn), input_shape, forward(module, x)); the weights are set from a seed by
``set_weights`` in both libraries (their random initialisations differ), so outputs can be compared.
Used by tests/test_layers_parity.py and tests/golden/make_layers_parity_golden.py.
"""
import numpy as np


def call(module, x):
    return module(x)


def first(module, x):
    return module(x)[0]


def pool_then_unpool(modules, x):
    return modules[1](*modules[0](x))


LAYER_CASES = [
    ("conv2d_same_reflect", lambda nn: nn.Conv2d(3, 4, (4, 3), padding="same", padding_mode="reflect",
                                                 dilation=(1, 2)), (2, 3, 6, 7), call),
    ("conv2d_circular_no_bias", lambda nn: nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="circular", bias=False),
     (2, 3, 5, 6), call),
    ("conv2d_replicate_strided_groups", lambda nn: nn.Conv2d(3, 6, 3, stride=2, padding=1, padding_mode="replicate",
                                                             groups=3), (2, 3, 7, 6), call),
    ("conv2d_valid_unbatched", lambda nn: nn.Conv2d(3, 2, 3, padding="valid"), (3, 7, 6), call),
    ("conv1d_reflect_dilated", lambda nn: nn.Conv1d(3, 4, 3, padding=2, padding_mode="reflect", dilation=2),
     (2, 3, 9), call),
    ("conv1d_same_unbatched", lambda nn: nn.Conv1d(3, 4, 4, padding="same"), (3, 8), call),
    ("max_pool_ceil_indices", lambda nn: nn.MaxPool2d(3, 2, 1, return_indices=True, ceil_mode=True), (2, 3, 8, 7),
     first),
    ("avg_pool_ceil_exclude_pad", lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     (2, 3, 8, 7), call),
    ("adaptive_max_keep_width", lambda nn: nn.AdaptiveMaxPool2d((3, None)), (2, 3, 8, 7), call),
    ("max_unpool", lambda nn: nn.ModuleList([nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)]),
     (2, 3, 6, 4), pool_then_unpool),
    ("unflatten", lambda nn: nn.Sequential(nn.Linear(6, 10), nn.Unflatten(1, (2, 5))), (4, 6), call),
    ("upsample_nearest", lambda nn: nn.Upsample(scale_factor=2), (2, 3, 3, 4), call),
    ("upsample_bilinear", lambda nn: nn.Upsample(size=(5, 7), mode="bilinear"), (2, 3, 3, 4), call),
    ("upsample_bilinear_align_corners", lambda nn: nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
     (1, 2, 4, 3), call),
]


def weights(module, seed):
    """A float64 value for every state_dict entry, from `seed`, in state_dict order."""
    rng = np.random.default_rng(seed)
    return {name: 0.5 * rng.normal(size=tuple(value.shape)) for name, value in module.state_dict().items()}


def make_input(shape, seed):
    return np.random.default_rng(seed + 100).normal(size=shape)
