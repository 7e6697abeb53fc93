import numpy as np
import pytest
from scipy import sparse

from scvi_contrastive.tools.metacells import metacell_sketch


def test_sketch_shape_order_and_scale(program_data):
    normalized, embedding, labels = program_data(400)
    mean, std = normalized.mean(0), normalized.std(0)
    sketch = metacell_sketch(normalized, embedding, 4, mean, std)
    assert sketch.shape == (4, 30) and sketch.dtype == np.float32
    # Four well separated programs: the metacells are the programs, largest first, standardised.
    for rank, label in enumerate([1, 3, 2, 0]):
        expected = (normalized[labels == label].mean(0) - mean) / std
        np.testing.assert_allclose(sketch[rank], expected, rtol=1e-4, atol=1e-4)


def test_sketch_is_the_same_for_sparse_input(program_data):
    normalized, embedding, _ = program_data(200)
    mean, std = normalized.mean(0), normalized.std(0)
    dense = metacell_sketch(normalized, embedding, 8, mean, std)
    from_sparse = metacell_sketch(sparse.csr_matrix(normalized), embedding, 8, mean, std)
    np.testing.assert_allclose(dense, from_sparse, rtol=1e-5, atol=1e-5)


def test_sketch_rejects_more_metacells_than_cells(program_data):
    normalized, embedding, _ = program_data(10)
    with pytest.raises(ValueError, match="n_metacells"):
        metacell_sketch(normalized, embedding, 11, normalized.mean(0), normalized.std(0))
