"""The (values, indices) pairs of max/min with dim, sort, topk, median and mode, as ``torch.return_types``.

Named tuples: ``values, indices = x.max(1)``, ``x.max(1)[1]`` and ``x.max(1).indices`` all work.
"""
from collections import namedtuple

_FIELDS = ("values", "indices")
max = namedtuple("max", _FIELDS)
min = namedtuple("min", _FIELDS)
sort = namedtuple("sort", _FIELDS)
topk = namedtuple("topk", _FIELDS)
median = namedtuple("median", _FIELDS)
mode = namedtuple("mode", _FIELDS)
