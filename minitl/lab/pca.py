"""Principal component analysis with NumPy's SVD, to look at features in two dimensions.

For centred data X (N, D) = U S V^T, the principal directions are the rows
of V^T (sorted by singular value) and the projections are X V = U S. The
variance along direction i is S_i^2 / (N - 1); its share of the total is the
explained-variance ratio.
"""
import numpy as np


def pca(features, n_components=2):
    """(projections (N, n_components), explained-variance ratio of each component) of `features` (N, D)."""
    features = np.asarray(features)
    if features.ndim != 2 or not 1 <= n_components <= min(features.shape):
        raise ValueError(f"pca expects (N, D) features and 1 <= n_components <= min(N, D), got shape "
                         f"{features.shape} and n_components={n_components}")
    centred = features - features.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    variance = s ** 2
    return u[:, :n_components] * s[:n_components], variance[:n_components] / variance.sum()
