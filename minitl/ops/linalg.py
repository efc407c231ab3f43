"""``tl.linalg``: the norms of ``torch.linalg`` that students use.

``norm(x)`` with no `ord` is the Euclidean norm of all elements; with
``ord`` a number it is the vector p-norm over `dim` (matrix norms other than
Frobenius are not in minitl).
"""
from minitl.ops import reduction


def vector_norm(x, ord=2, dim=None, keepdim=False):
    """(sum |x|**ord)**(1/ord) over `dim` (all elements by default)."""
    return reduction.norm(x, ord, dim, keepdim)


def norm(x, ord=None, dim=None, keepdim=False):
    """The Euclidean (Frobenius) norm for ord None or 'fro'; the vector `ord`-norm over one `dim` otherwise."""
    if ord in (None, "fro"):
        return reduction.norm(x, "fro", dim, keepdim)
    if dim is None and x.ndim != 1 or isinstance(dim, tuple):
        raise NotImplementedError("linalg.norm(): matrix norms other than 'fro' are not in minitl; "
                                  "use tl.linalg.vector_norm for the p-norm of all elements")
    return reduction.norm(x, ord, dim, keepdim)
