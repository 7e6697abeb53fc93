import numpy as np
import pytest
import scanpy as sc
import torch
from anndata import AnnData
from scipy import sparse

from scvi_contrastive.data.input_transform import batch_feature_means, fit_input_transform
from scvi_contrastive.nn.input_transform import InputTransform, n_transform_components


def _counts(n_cells: int = 300, n_features: int = 80, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 3, n_cells)
    rates = rng.gamma(1.0, 2.0, size=(3, n_features))
    return rng.poisson(rates[groups]).astype(np.float32)


def _transform(counts: np.ndarray, kind: str, n_components: int | None) -> InputTransform:
    n_output = n_transform_components(counts.shape[1], kind, n_components)
    transform = InputTransform(counts.shape[1], n_output, kind)
    transform.set_statistics(fit_input_transform(counts, kind=kind, n_components=n_components))
    return transform


def test_rna_transform_is_scanpys_pca_up_to_sign_and_scale():
    counts = _counts()
    components = _transform(counts, "log_normalize", 10)(torch.from_numpy(counts)).numpy()
    adata = AnnData(counts.copy())
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    sc.pp.scale(adata, max_value=10)
    reference = sc.tl.pca(adata.X, n_comps=10, svd_solver="arpack")
    for i in range(3):
        r = np.corrcoef(components[:, i], reference[:, i])[0, 1]
        assert abs(r) > 0.99


def test_statistics_from_sparse_and_dense_input_agree():
    counts = _counts()
    dense = fit_input_transform(counts, kind="log_normalize", n_components=5)
    from_sparse = fit_input_transform(
        sparse.csr_matrix(counts), kind="log_normalize", n_components=5
    )
    for name in dense:
        np.testing.assert_allclose(dense[name], from_sparse[name], rtol=1e-5, atol=1e-6)


def test_tfidf_drops_the_depth_component_and_clr_keeps_small_panels_whole():
    counts = _counts(n_features=60)
    lsi = _transform(counts, "tfidf", 10)
    assert lsi.n_output == 10 and torch.isfinite(lsi(torch.from_numpy(counts))).all()
    panel = counts[:, :8]
    clr = _transform(panel, "clr", 50)
    assert clr.n_output == 8
    torch.testing.assert_close(clr.loadings, torch.eye(8))


def test_rows_restrict_the_fit_and_empty_rows_are_refused():
    counts = _counts()
    some = fit_input_transform(counts, rows=np.arange(100), kind="log_normalize", n_components=5)
    assert not np.allclose(
        some["feature_mean"], fit_input_transform(counts, n_components=5)["feature_mean"]
    )
    with pytest.raises(ValueError, match="No cells"):
        fit_input_transform(counts, rows=np.array([], dtype=int))


def test_statistics_of_the_wrong_shape_are_refused():
    transform = InputTransform(10, 4)
    with pytest.raises(ValueError, match="loadings"):
        transform.set_statistics({"loadings": np.zeros((10, 5))})


def test_each_batch_is_centred_on_its_own_feature_means():
    rng = np.random.default_rng(0)
    counts = _counts(n_cells=400)
    batches = np.repeat([0, 1], 200)
    # Batch 1: every cell's counts scaled per gene, a batch effect on the log scale.
    counts[batches == 1] = rng.poisson(counts[batches == 1] * rng.uniform(0.3, 3.0, 80))
    statistics = fit_input_transform(
        counts, kind="log_normalize", n_components=5, batches=batches, n_batch=2
    )
    assert statistics["batch_shift"].shape == (80, 2)
    transform = InputTransform(80, 5, "log_normalize", n_batch=2)
    transform.set_statistics(statistics)
    index = torch.from_numpy(batches)
    centred = transform(torch.from_numpy(counts), index).numpy()
    plain = transform(torch.from_numpy(counts)).numpy()

    def gap(components):
        return np.linalg.norm(components[batches == 0].mean(0) - components[batches == 1].mean(0))

    assert gap(centred) < 0.05 * gap(plain)
    one = fit_input_transform(counts, kind="log_normalize", n_components=5)
    np.testing.assert_array_equal(one["batch_shift"], np.zeros((80, 1), dtype=np.float32))


def test_batch_feature_means_match_the_fitted_centres():
    counts = _counts()
    batches = np.repeat([0, 1, 2], 100)
    statistics = fit_input_transform(counts, n_components=5, batches=batches, n_batch=3)
    rows = np.flatnonzero(batches == 2)
    means = batch_feature_means(counts, rows, "log_normalize")
    np.testing.assert_allclose(
        means - statistics["feature_mean"], statistics["batch_shift"][:, 2], atol=1e-5
    )


def test_pearson_residuals_are_scanpys_centred_and_clipped():
    counts = _counts()
    transform = _transform(counts, "pearson_residuals", 10)
    adata = AnnData(counts.copy())
    sc.experimental.pp.normalize_pearson_residuals(adata, theta=100, clip=np.inf)
    reference = np.clip(adata.X - adata.X.mean(axis=0), -10, 10)
    normalized = transform.normalize(torch.from_numpy(counts)).numpy()
    np.testing.assert_allclose(normalized, reference, rtol=1e-4, atol=1e-4)
    # Not standardised: genes keep the residuals' own spread.
    torch.testing.assert_close(transform.feature_std, torch.ones(counts.shape[1]))
    assert reference.std(axis=0).max() > 2 * reference.std(axis=0).min()


def test_pearson_batch_means_use_the_reference_genes_shares():
    counts = _counts()
    batches = np.repeat([0, 1, 2], 100)
    statistics = fit_input_transform(
        counts, kind="pearson_residuals", n_components=5, batches=batches, n_batch=3
    )
    rows = np.flatnonzero(batches == 2)
    means = batch_feature_means(
        counts, rows, "pearson_residuals", feature_weight=statistics["feature_weight"]
    )
    np.testing.assert_allclose(
        means - statistics["feature_mean"], statistics["batch_shift"][:, 2], atol=1e-4
    )
