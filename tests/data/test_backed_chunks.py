"""Backed count matrices: the setup passes read bounded row chunks and give in-memory numbers."""

import anndata as ad
import h5py
import numpy as np
import pytest
from anndata.abc import CSRDataset
from scipy import sparse

from scvi_contrastive.data import backed
from scvi_contrastive.data.count_checks import check_counts, row_sums
from scvi_contrastive.data.input_transform import batch_feature_means, fit_input_transform

N_CELLS = 250
CHUNK = 40


def _counts(n_features: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 3, N_CELLS)
    rates = rng.gamma(1.0, 2.0, size=(3, n_features))
    return rng.poisson(rates[groups]).astype(np.float32)


@pytest.fixture(params=["csr", "dense"])
def on_disk(request, tmp_path, monkeypatch, row_reads):
    """``(in-memory matrix, the same matrix backed, rows of each read from the file)``."""
    counts = _counts()
    matrix = sparse.csr_matrix(counts) if request.param == "csr" else counts
    path = tmp_path / "counts.h5ad"
    ad.AnnData(matrix).write_h5ad(path)
    disk = ad.read_h5ad(path, backed="r").X
    assert backed.is_on_disk(disk) and isinstance(disk, CSRDataset | h5py.Dataset)
    monkeypatch.setattr(backed, "CHUNK_ROWS", CHUNK)
    return matrix, disk, row_reads(type(disk))


def test_row_passes_read_chunks_and_match_memory(on_disk):
    matrix, disk, reads = on_disk
    np.testing.assert_array_equal(row_sums(disk), row_sums(matrix))
    check_counts(disk, "m")
    assert reads and max(reads) <= CHUNK
    assert sum(reads) == 2 * N_CELLS  # each pass read every row once


def test_read_rows_is_the_in_memory_subset(on_disk):
    matrix, disk, reads = on_disk
    rows = np.sort(np.random.default_rng(0).choice(N_CELLS, 120, replace=False))
    from_disk = backed.read_rows(disk, rows)
    assert from_disk.dtype == np.float64
    np.testing.assert_array_equal(from_disk.toarray(), backed.read_rows(matrix, rows).toarray())
    assert reads == [CHUNK, CHUNK, CHUNK]


@pytest.mark.parametrize("kind", ["log_normalize", "clr", "tfidf"])
def test_input_transform_fitted_on_disk_is_the_in_memory_one(on_disk, kind):
    matrix, disk, reads = on_disk
    rows = np.arange(5, N_CELLS)
    batches = np.arange(N_CELLS) % 2
    fit = {"rows": rows, "kind": kind, "n_components": 8, "batches": batches, "n_batch": 2}
    expected = fit_input_transform(matrix, **fit)
    for name, value in fit_input_transform(disk, **fit).items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    np.testing.assert_array_equal(
        batch_feature_means(disk, rows, kind), batch_feature_means(matrix, rows, kind)
    )
    assert max(reads) <= CHUNK


def test_a_bad_value_in_a_later_chunk_is_found(tmp_path, monkeypatch):
    counts = _counts()
    counts[-1, 0] = 0.5
    path = tmp_path / "counts.h5ad"
    ad.AnnData(sparse.csr_matrix(counts)).write_h5ad(path)
    monkeypatch.setattr(backed, "CHUNK_ROWS", CHUNK)
    with pytest.raises(ValueError, match=r"non-integer values \(e.g. 0.5\)"):
        check_counts(ad.read_h5ad(path, backed="r").X, "m")


def test_csc_on_disk_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "counts.h5ad"
    ad.AnnData(sparse.csc_matrix(_counts())).write_h5ad(path)
    with pytest.raises(ValueError, match=r"\.X of modality 'rna' is a CSC matrix on disk.*CSR"):
        backed.check_readable_by_rows(ad.read_h5ad(path, backed="r").X, ".X of modality 'rna'")
    backed.check_readable_by_rows(sparse.csc_matrix(_counts()), "in memory")
