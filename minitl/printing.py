"""``tl.set_printoptions``: how tensors print (digits, summarised size, line width), as in PyTorch.

The options apply to minitl's tensors only: the tensor repr (autograd/tensor.py) prints inside
``numpy.printoptions(**OPTIONS)``, so NumPy's own printing is left as the user set it.
"""
import sys

import numpy as np

from minitl.autograd import Tensor

OPTIONS = {}

PROFILES = {  # torch's named profiles
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": sys.maxsize, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Digits after the point, the size above which a tensor is summarised (with `edgeitems` at each end),
    the line width, a named `profile` ('default', 'short', 'full'), and `sci_mode` (True: always scientific
    notation; False: never; None: as NumPy chooses)."""
    if profile is not None:
        if profile not in PROFILES:
            raise ValueError(f"set_printoptions(): unknown profile {profile!r}: expected one of {sorted(PROFILES)}")
        OPTIONS.update(PROFILES[profile])
    given = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems, "linewidth": linewidth}
    OPTIONS.update({name: value for name, value in given.items() if value is not None})
    if sci_mode is not None:
        OPTIONS.pop("formatter", None)
        OPTIONS["suppress"] = not sci_mode
        if sci_mode:
            digits = OPTIONS.get("precision", 4)
            OPTIONS["formatter"] = {"float_kind": lambda v: f"{v:.{digits}e}"}


_plain_repr = Tensor.__repr__


def _repr(tensor):
    with np.printoptions(**OPTIONS):
        return _plain_repr(tensor)


Tensor.__repr__ = _repr
