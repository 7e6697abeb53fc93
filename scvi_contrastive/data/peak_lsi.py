"""Latent semantic indexing of peak counts: the peaks' own view of the ATAC cells."""

from __future__ import annotations

import anndata as ad
import numpy as np
import scanpy as sc
from scipy import sparse


def peak_lsi(
    adata: ad.AnnData, n_comps: int = 30, layer: str | None = None, seed: int = 0
) -> np.ndarray:
    """TF-IDF (muon, log TF and log IDF), truncated SVD, the first component left out.

    The components keep their singular values as weights (scanpy's PCA without centring on the
    TF-IDF), unlike ``mu.atac.tl.lsi``'s default, which scales each to unit variance. The
    first follows sequencing depth and is left out. The result is what
    :meth:`~scvi_contrastive.model.BICLUM.train` (``neighbors_obsm``) and
    :meth:`~scvi_contrastive.model.BICLUM.get_latent_representation` (``smooth_obsm``) take
    for ATAC cells; the benchmark's ATAC LSI baseline and WNN use it too.

    Parameters
    ----------
    adata
        Peak counts of the ATAC cells; ``adata`` is not changed.
    n_comps
        Components returned (after leaving out the first); fewer when the data are smaller.
    layer
        Layer holding the counts; ``None``: the ``"counts"`` layer if there is one, else ``.X``.
    seed
        Random state of the SVD.

    Returns
    -------
    ``(n_cells, n_comps)`` float32 array, rows in ``adata``'s order.
    """
    from muon import atac as mu_atac

    if layer is None:
        layer = "counts" if "counts" in adata.layers else None
    elif layer not in adata.layers:
        raise ValueError(
            f"Layer {layer!r} not found; available layers: {list(adata.layers)} (`layer=None` "
            "reads .X)."
        )
    counts = adata.X if layer is None else adata.layers[layer]
    out = ad.AnnData(
        X=sparse.csr_matrix(counts, dtype=np.float32),
        obs=adata.obs[[]].copy(),
        var=adata.var[[]].copy(),
    )
    mu_atac.pp.tfidf(out, scale_factor=1e4, log_tf=True, log_idf=True, log_tfidf=False)
    n_comps = min(n_comps + 1, min(out.shape) - 1)
    sc.tl.pca(out, n_comps=n_comps, zero_center=False, svd_solver="arpack", random_state=seed)
    return np.asarray(out.obsm["X_pca"][:, 1:], dtype=np.float32)
