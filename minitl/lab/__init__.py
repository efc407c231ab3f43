"""The course's lab: what the lectures build on top of the engine, and the tools that measure it.

    from minitl.lab import transfer, train       # or tl.transfer, tl.train: the same modules

train        fit / evaluate: a training loop to watch, per-epoch history, learning-curve plots, early stopping
monitor      gradient norms, update/weight ratios, activation statistics (fit(record_stats=...))
transfer     freeze, replace_head, fine-tuning groups, cached features, fully connected -> convolution
tune         random, grid and coarse-to-fine hyper-parameter search
ensemble     averaged predictions, snapshot ensembles, EMA weights
multitask    one shared network, one head per task
backdoor     a BadNets trigger: poison training images, stamp test images
pca          principal components with NumPy's SVD
bench        ``python -m minitl bench``: minitl's training speed next to PyTorch's (torch optional);
torch_models its networks, written once for both engines

The engine (tensors, autograd, ops, nn, optim, io, data, models) never imports this package;
``import minitl`` does not load it.
"""
