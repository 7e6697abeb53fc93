import numpy as np
import pytest
from scipy import sparse

from scvi_contrastive.data import DATASETS, read_dataset


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_shipped_set_reads_with_counts_labels_and_batch(name):
    mdata = read_dataset(name)
    assert set(mdata.mod) >= {"rna"} and len(mdata.mod) == 2
    for mod in mdata.mod.values():
        counts = mod.layers["counts"]
        assert sparse.issparse(counts) and counts.shape == mod.shape
        values = counts.data
        assert np.isfinite(values).all() and (values >= 0).all()
        np.testing.assert_array_equal(values, np.round(values))
    for column in DATASETS[name]["labels"]:
        labels = mdata.obs[column]
        assert labels.notna().all() and labels.nunique() >= 2
    batch = DATASETS[name]["batch"]
    if batch is not None:
        assert mdata.obs[batch].nunique() == 2


def test_snare_cortex_ships_gene_peak_links_over_its_own_features():
    mdata = read_dataset("snare_cortex")
    links = mdata["atac"].uns["gene_peak_links"]
    assert {"gene", "peak"} <= set(links.columns)
    assert np.isin(links["peak"], mdata["atac"].var_names).all()
    assert np.isin(links["gene"], mdata["rna"].var_names).all()


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="snare_cortex"):
        read_dataset("snare")
