"""unfold (im2col: every window of the padded input as a column) and its adjoint fold (col2im), beside references.

For x (N, C, H, W), a kh x kw kernel, stride s, padding p and dilation d
(PyTorch's order: channel, then kernel row, then kernel column):

    unfold   cols[n, c kh kw + i kw + j, h OW + w] = x_pad[n, c, h sh + i dh, w sw + j dw]
    fold     x[n, c, ...] = the sum of every column value read from that pixel, padding dropped

Why they are fast: unfold copies one strided view of all the windows
(``convolution.windows``, no Python loop over pixels) into place, and fold
adds each kernel offset's slice back at once, kh kw vectorised slice-adds
(``convolution.add_windows_back``; np.add.at would be ~13x slower).
"""
from minitl import backend
from minitl.kernels.convolution import add_windows_back, output_hw, pad_spatial, reference_windows, unpad_spatial, windows


# -- the references: what the kernels compute ---------------------------------------------
def reference_unfold(x, kernel, stride, padding, dilation):
    """The windows of the definition, (N, C, OH, OW, kh, kw), with their axes put in the columns' order."""
    every_window = reference_windows(x, kernel, stride, padding, dilation, 1)[:, 0]
    n, c, oh, ow, kh, kw = every_window.shape
    return every_window.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def reference_fold(cols, hw, kernel, stride, padding, dilation):
    """A loop over the windows, each adding its column onto the pixels it covers, then the padding cut off."""
    xp = backend.get_array_module(cols)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh, ow = output_hw(hw, kernel, stride, padding, dilation)
    n, c = cols.shape[0], cols.shape[1] // (kh * kw)
    grad = xp.zeros((n, c, hw[0] + 2 * ph, hw[1] + 2 * pw), dtype=cols.dtype)
    for h in range(oh):
        for w in range(ow):
            grad[:, :, h * sh:h * sh + dh * (kh - 1) + 1:dh, w * sw:w * sw + dw * (kw - 1) + 1:dw] += \
                cols[:, :, h * ow + w].reshape(n, c, kh, kw)
    return unpad_spatial(grad, padding)


# -- the fast path ---------------------------------------------------------------------------
def unfold(x, kernel, stride, padding, dilation):
    """The (N, C kh kw, OH OW) columns of x (N, C, H, W): one copy of a strided view."""
    n = x.shape[0]
    out_hw = output_hw(x.shape[2:], kernel, stride, padding, dilation)
    view = windows(pad_spatial(x, padding), kernel, stride, dilation, out_hw, out_hw[1])
    return view.transpose(3, 0, 1, 2, 4, 5).reshape(n, -1, out_hw[0] * out_hw[1])


def fold(cols, hw, kernel, stride, padding, dilation):
    """The (N, C, H, W) sum of each column of `cols` (N, C kh kw, OH OW) back onto its window, (H, W) = hw."""
    (kh, kw), (ph, pw) = kernel, padding
    out_hw = output_hw(hw, kernel, stride, padding, dilation)
    n = cols.shape[0]
    grid = cols.reshape(n, -1, kh, kw, *out_hw).transpose(1, 2, 3, 0, 4, 5)  # like windows()
    padded_shape = (n, grid.shape[0], hw[0] + 2 * ph, hw[1] + 2 * pw)
    return unpad_spatial(add_windows_back(grid, padded_shape, stride, dilation), padding)
