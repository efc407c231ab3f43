"""Embedding: a lookup table, row i of the weight for index i (a one-hot vector times the weight, done as
indexing). Its gradient adds gy into the looked-up rows; the row of `padding_idx` gets none, as in PyTorch.
"""
from minitl import creation
from minitl.nn import init
from minitl.nn.arguments import tensor_argument
from minitl.nn.module import Module, Parameter
from minitl.ops.shape import where


def _check_padding_idx(padding_idx, num_embeddings):
    """padding_idx as a row number in [0, num_embeddings) (a negative one counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx % num_embeddings


def _refuse_unsupported(max_norm, scale_grad_by_freq, sparse):
    if max_norm is not None:
        raise NotImplementedError("Embedding max_norm (renormalising looked-up rows in place) is not in minitl; "
                                  "clip the rows yourself under tl.no_grad(), e.g. with F.normalize")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("Embedding scale_grad_by_freq and sparse gradients are not in minitl")


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """weight[input]: an integer tensor of any shape (*) gives (*, embedding_dim); no gradient to padding_idx."""
    tensor_argument(input, "embedding", "input")
    tensor_argument(weight, "embedding", "weight")
    _refuse_unsupported(max_norm, scale_grad_by_freq, sparse)
    if input.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have an integer type, got {input.dtype}")
    rows = weight[input]
    padding_idx = _check_padding_idx(padding_idx, weight.shape[0])
    if padding_idx is None:
        return rows
    return where((input.data != padding_idx)[..., None], rows, weight.detach()[input])


class Embedding(Module):
    """A table of num_embeddings vectors of embedding_dim, initialised from N(0, 1) (padding row 0)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        _refuse_unsupported(max_norm, scale_grad_by_freq, sparse)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _check_padding_idx(padding_idx, num_embeddings)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(creation.zeros((num_embeddings, embedding_dim), dtype=dtype, device=device))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight.detach())
        self.weight.requires_grad_(not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else text + f", padding_idx={self.padding_idx}"

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is `embeddings` (2-D), frozen unless freeze=False."""
        if embeddings.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)
