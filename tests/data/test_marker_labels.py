import anndata as ad
import numpy as np
import pytest
from scipy import sparse

from scvi_contrastive.data import marker_labels

MARKERS = {"B": ["MS4A1", "CD79A"], "NK": ["NKG7", "GNLY"]}
GENES = ["MS4A1", "CD79A", "NKG7", "GNLY", "ACTB"]


def rna(counts) -> ad.AnnData:
    adata = ad.AnnData(
        np.zeros((len(counts), len(GENES)), np.float32),
        layers={"counts": sparse.csr_matrix(np.asarray(counts, np.float32))},
    )
    adata.var_names = GENES
    adata.obs_names = [f"c{i}" for i in range(len(counts))]
    return adata


def test_clear_cells_get_their_type_and_ambiguous_ones_stay_unassigned():
    adata = rna(
        [
            [30, 20, 0, 0, 50],  # B markers only
            [0, 0, 25, 25, 50],  # NK markers only
            [20, 20, 20, 20, 20],  # both: no clear winner
            [0, 0, 0, 0, 100],  # neither
        ]
    )
    before = adata.layers["counts"].toarray().copy()
    labels = marker_labels(adata, MARKERS)
    assert labels.tolist() == ["B", "NK", "unassigned", "unassigned"]
    assert labels.index.equals(adata.obs_names)
    np.testing.assert_array_equal(adata.layers["counts"].toarray(), before)


def test_missing_markers_and_layer_are_named():
    adata = rna([[1, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match="CD3E"):
        marker_labels(adata, {"T": ["CD3E"]})
    # The listing names layers only (anndata 0.13 lists `.X` among them, as None).
    with pytest.raises(ValueError, match=r"`layer='raw'` is not in `rna.layers` \(\['counts'\]\)"):
        marker_labels(adata, MARKERS, layer="raw")
