"""The lecture's im2col as public, differentiable functions: ``F.unfold`` and its adjoint ``F.fold``.

For x (N, C, H, W), a kh x kw kernel, stride s, padding p and dilation d,
unfold lays every window out as one column (PyTorch's order: channel, then
kernel row, then kernel column):

    cols[n, c kh kw + i kw + j, h OW + w] = x_pad[n, c, h sh + i dh, w sw + j dw]      (N, C kh kw, OH OW)

so a convolution is ``W.reshape(O, -1) @ unfold(x)``. fold is the adjoint:
it adds each column's values back onto the pixels they came from
(overlapping windows add up) and drops the padding, so

    fold(unfold(x)) = x * (number of windows covering each pixel)

and each one's backward is the other. The array code is in
``minitl.kernels.unfold``, beside its plain reference.
"""
from minitl.autograd import Function
from minitl.kernels import unfold as kernels
from minitl.kernels.convolution import output_hw
from minitl.nn.arguments import tensor_argument
from minitl.nn.conv import pair


class Geometry:
    """Kernel, dilation, padding and stride as pairs, and the output grid they give for an (H, W) input."""

    def __init__(self, kernel_size, dilation, padding, stride):
        self.kernel, self.dilation = pair(kernel_size, "kernel_size"), pair(dilation, "dilation")
        self.padding, self.stride = pair(padding, "padding"), pair(stride, "stride")

    def blocks(self, hw):
        """(OH, OW): how many window positions fit along each spatial dim."""
        return output_hw(hw, self.kernel, self.stride, self.padding, self.dilation)

    def arguments(self):
        """The window arguments in the kernels' order."""
        return self.kernel, self.stride, self.padding, self.dilation


class Unfold(Function):
    """cols = unfold(x);  dx = fold(gcols), the adjoint."""

    def __init__(self, geometry):
        self.geometry = geometry

    def forward(self, x):
        self.hw = x.shape[2:]
        return kernels.unfold(x, *self.geometry.arguments())

    def backward(self, gcols):
        return (Fold(self.geometry, self.hw).on(gcols),)


class Fold(Function):
    """x = fold(cols) for an (H, W) = hw output;  dcols = unfold(gx), the adjoint."""

    def __init__(self, geometry, hw):
        self.geometry, self.hw = geometry, hw

    def forward(self, cols):
        return kernels.fold(cols, self.hw, *self.geometry.arguments())

    def backward(self, gx):
        return (Unfold(self.geometry).on(gx),)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding windows of (N, C, H, W) as columns: (N, C kh kw, OH OW), PyTorch's F.unfold."""
    tensor_argument(input, "unfold", "input")
    if input.ndim != 4:
        raise ValueError(f"unfold expects 4-D (N, C, H, W) input, got shape {input.shape}")
    geometry = Geometry(kernel_size, dilation, padding, stride)
    if min(geometry.blocks(input.shape[2:])) < 1:
        raise ValueError(f"unfold: input {input.shape} is too small for kernel {geometry.kernel} with "
                         f"padding {geometry.padding} and dilation {geometry.dilation}")
    return Unfold(geometry)(input)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Columns (N, C kh kw, L) summed back into (N, C, *output_size), PyTorch's F.fold (unfold's adjoint)."""
    tensor_argument(input, "fold", "input")
    geometry = Geometry(kernel_size, dilation, padding, stride)
    hw = pair(output_size, "output_size")
    (kh, kw), blocks = geometry.kernel, geometry.blocks(hw)
    if input.ndim != 3 or input.shape[1] % (kh * kw):
        raise ValueError(f"fold expects input of shape (N, C * {kh * kw}, L) for kernel {geometry.kernel}, "
                         f"got {input.shape}")
    if min(blocks) < 1 or input.shape[2] != blocks[0] * blocks[1]:
        raise ValueError(f"fold: output_size={hw} with kernel {geometry.kernel}, padding {geometry.padding}, "
                         f"stride {geometry.stride} and dilation {geometry.dilation} has {blocks[0]} x "
                         f"{blocks[1]} = {blocks[0] * blocks[1]} blocks, but the input has L = {input.shape[2]}")
    return Fold(geometry, hw)(input)
