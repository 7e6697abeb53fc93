import numpy as np
from scipy import sparse

from scvi_contrastive.tools.joint_pca import fit_joint_pca, joint_pca


def test_joint_pca_removes_per_modality_offsets_and_accepts_sparse():
    rng = np.random.default_rng(4)
    x = np.abs(rng.normal(size=(60, 12)))
    shifted = 2.0 * x + 5.0  # another modality: same cells, other scale and offset
    z_a, z_b = joint_pca([x, shifted], n_components=4)
    np.testing.assert_allclose(z_a, z_b, atol=1e-8)
    (z_sparse,) = joint_pca([sparse.csr_matrix(x)], n_components=4)
    (z_dense,) = joint_pca([x], n_components=4)
    np.testing.assert_allclose(z_sparse, z_dense, atol=1e-8)
    assert z_a.shape == (60, 4)


def _low_rank(rng, n_cells, n_features=40, rank=3):
    """Cells varying along a few programs, plus a little noise."""
    signal = rng.normal(size=(n_cells, rank)) @ rng.normal(size=(rank, n_features))
    return signal + 0.1 * rng.normal(size=(n_cells, n_features))


def test_joint_pca_fitted_on_a_sketch_embeds_every_cell_in_the_same_space():
    rng = np.random.default_rng(6)
    x_a = _low_rank(rng, 3_000)
    x_b = 2.0 * x_a[rng.permutation(3_000)[:2_000]] + 1.0
    whole = joint_pca([x_a, sparse.csr_matrix(x_b)], n_components=3)
    # Sets no larger than the sketch are fitted whole: the same result.
    same = joint_pca([x_a, sparse.csr_matrix(x_b)], n_components=3, max_fit_cells=3_000)
    for z, z_whole in zip(same, whole, strict=True):
        np.testing.assert_array_equal(z, z_whole)
    sketched = joint_pca([x_a, sparse.csr_matrix(x_b)], n_components=3, max_fit_cells=300)
    for z, z_whole in zip(sketched, whole, strict=True):
        assert z.shape == z_whole.shape and np.all(np.isfinite(z))
        # The same space up to a rotation: the whole fit's coordinates are a linear map of the
        # sketched fit's, to within a small residual.
        design = np.column_stack([z, np.ones(len(z))])
        coef, *_ = np.linalg.lstsq(design, z_whole, rcond=None)
        residual = np.sum((design @ coef - z_whole) ** 2) / np.sum(
            (z_whole - z_whole.mean(0)) ** 2
        )
        assert residual < 1e-3


def test_joint_pca_variances_are_those_of_the_coordinates():
    rng = np.random.default_rng(7)
    x = _low_rank(rng, 500)
    pca = fit_joint_pca([x, 3.0 * x + 1.0], n_components=5)
    z_a, z_b = pca.transform([x, 3.0 * x + 1.0])
    np.testing.assert_allclose(z_a.var(axis=0), pca.variances, rtol=1e-6)
    np.testing.assert_allclose(z_b.var(axis=0), pca.variances, rtol=1e-6)
    assert np.all(np.diff(pca.variances) <= 0)
    np.testing.assert_allclose(pca.axes.T @ pca.axes, np.eye(5), atol=1e-8)
