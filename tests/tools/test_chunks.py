import numpy as np
import pytest
from scipy import sparse

from scvi_contrastive.model._biclum_anchors import log_normalized_columns
from scvi_contrastive.tools import chunks
from scvi_contrastive.tools.chunks import row_chunks, take_rows
from scvi_contrastive.tools.joint_pca import column_moments, joint_pca
from scvi_contrastive.tools.metacells import metacell_sketch


def test_row_chunks_cover_the_rows_once():
    assert list(row_chunks(10, 4)) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert list(row_chunks(8, 4)) == [slice(0, 4), slice(4, 8)]
    assert list(row_chunks(3, 4)) == [slice(0, 3)]
    assert list(row_chunks(0, 4)) == [slice(0, 0)]
    with pytest.raises(ValueError, match="chunk_rows"):
        list(row_chunks(3, 0))


def test_take_rows_copies_only_part_of_a_matrix():
    x = sparse.random(10, 4, density=0.5, format="csr", random_state=0)
    assert take_rows(x, slice(0, 10)) is x
    np.testing.assert_array_equal(take_rows(x, slice(4, 8)).toarray(), x[4:8].toarray())
    dense = x.toarray()
    assert take_rows(dense, next(row_chunks(10))) is dense


def test_chunked_work_gives_the_result_of_one_pass(monkeypatch, program_data):
    normalized, embedding, _ = program_data(500)
    counts = sparse.csr_matrix(np.expm1(normalized).round())
    x = sparse.csr_matrix(normalized)
    rows, columns = np.arange(3, 480), np.arange(5, 25)

    def results():
        return {
            "log": log_normalized_columns(counts, columns, rows).toarray(),
            "moments": column_moments(x),
            "pca": joint_pca([x, x[::2]], 3),
            "sketch": metacell_sketch(x, embedding, 4, *column_moments(x)),
        }

    whole = results()
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 64)
    chunked = results()
    # Normalisation is per cell: the same values; sums over cells: the same up to rounding.
    np.testing.assert_array_equal(chunked["log"], whole["log"])
    for key in ("moments", "pca", "sketch"):
        for a, b in zip(chunked[key], whole[key], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=key)
