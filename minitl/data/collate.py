"""default_collate: a list of samples made into one batch, as ``torch.utils.data.default_collate`` does.

The batch has the samples' structure, each leaf stacked along a new first axis:

    tensors          -> tl.stack (their dtype)
    NumPy arrays     -> one tensor of their dtype (float64 stays float64, as in torch)
    Python floats    -> a float64 tensor;  ints -> int64;  bools -> bool
    strings          -> left as a list of strings
    dicts            -> a dict of batches, key by key
    tuples and lists -> a list of batches, field by field (a named tuple keeps its type)

so samples ``(image, label)`` give ``[images, labels]`` and the labels of a dataset returning ints
are a 1-D int64 tensor.
"""
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from minitl.autograd import Tensor
from minitl.backend import to_numpy
from minitl.creation import tensor
from minitl.ops import stack

_REFUSED = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def default_collate(batch):
    """The samples in `batch` (a list) as one batch of tensors on the CPU."""
    return collate(batch, "cpu")


def collate(batch, device):
    """default_collate with the batch's tensors made on `device` ('cpu' or 'cuda')."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack([t.to(device) for t in batch])
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        if elem.dtype.kind in "USO":
            raise TypeError(_REFUSED.format(elem.dtype))
        array = np.stack([to_numpy(a) for a in batch])
        return tensor(array, dtype=array.dtype, device=device)
    if isinstance(elem, float):
        return tensor(np.array(batch, dtype=np.float64), dtype=np.float64, device=device)
    if isinstance(elem, numbers.Integral):  # bool is an Integral too: bools give a bool tensor
        array = np.array(batch)
        return tensor(array, dtype=array.dtype, device=device)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        return {key: collate([sample[key] for sample in batch], device) for key in elem}
    if isinstance(elem, Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [collate(field, device) for field in zip(*batch)]
        return type(elem)(*fields) if hasattr(elem, "_fields") else fields  # a named tuple keeps its type
    raise TypeError(_REFUSED.format(type(elem)))
