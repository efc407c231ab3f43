"""Kernels: the fast array code behind the Functions, each beside a plain reference that is its test oracle.

A kernel works on arrays only (NumPy or CuPy, never Tensors) and knows
nothing of autograd: the Function a student opens (in ``ops`` or ``nn``)
states the math and calls the kernel. Each fast kernel here has a
``reference_*`` twin written the obvious way; ``tests/test_kernels.py``
checks that the two agree, so speed never hides a wrong value.

    elementwise.py   ReLU forward and backward by blocks of rows, on minitl's threads
    convolution.py   conv2d forward, input and weight gradients: im2col views, chunked GEMMs, threads
    pooling.py       max and average pooling forward and backward
    normalization.py batch norm's statistics, normalisation and backward by channel blocks
"""
