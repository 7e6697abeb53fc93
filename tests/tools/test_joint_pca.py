import numpy as np
from scipy import sparse

from scvi_contrastive.tools.joint_pca import joint_pca


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
