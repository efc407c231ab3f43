"""Kernels: the fast array code behind the Functions, each beside a plain reference that is its test oracle.

A kernel works on arrays only (NumPy or CuPy, never Tensors) and knows
nothing of autograd: the Function a student opens (in ``ops`` or ``nn``)
states the math and calls the kernel. Each fast kernel here has a
``reference_*`` twin written the obvious way; ``tests/test_kernels.py``
checks that the two agree, so speed never hides a wrong value.

    elementwise.py    ReLU forward and backward by blocks of rows, on minitl's threads
    convolution.py    conv2d, its weight gradient (conv2d_weight) and input gradient (conv_transpose2d):
                      im2col views, one GEMM per cache-sized chunk of images, chunks on threads
    pooling.py        max and average pooling and their backward (and max pooling's gather, the
                      backward's adjoint): one whole-array operation per window offset
    normalization.py  batch norm's training and evaluation forward and its backward, by blocks of
                      channels on minitl's threads
    unfold.py         unfold (im2col) and fold (col2im): one strided view, kh kw slice-adds
"""
