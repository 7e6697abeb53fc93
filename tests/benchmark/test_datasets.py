import numpy as np

from scvi_contrastive.benchmark.datasets import load_dataset
from scvi_contrastive.data import read_cite_seq, read_pbmc_multiome


def test_split_halves_hold_different_cells():
    dataset = load_dataset("cbmc_cite_unpaired", n_cells=300, seed=0)
    rna, prot = dataset.mdata["rna"], dataset.mdata["prot"]
    assert not dataset.paired
    assert rna.n_obs + prot.n_obs == 300
    original = {c.split(":", 1)[1] for c in rna.obs_names}
    assert original.isdisjoint({c.split(":", 1)[1] for c in prot.obs_names})
    assert list(dataset.mdata.obs_names[: rna.n_obs]) == list(rna.obs_names)
    assert (dataset.cell_modality == "rna").sum() == rna.n_obs
    labels = read_cite_seq("cbmc_cite").obs["cell_type"]
    expected = labels.loc[[c.split(":", 1)[1] for c in prot.obs_names]].to_numpy()
    np.testing.assert_array_equal(dataset.labels[rna.n_obs :], expected)


def test_hidden_pairs_point_at_the_same_cell():
    dataset = load_dataset("pbmc_multiome_unpaired", seed=0)
    original = read_pbmc_multiome()
    rows_rna, rows_atac = dataset.true_pairs
    n = original.n_obs
    atac_counts = dataset.mdata["atac"].layers["counts"]
    for i in (0, 17, n - 1):
        partner = rows_atac[i] - n
        np.testing.assert_array_equal(
            atac_counts[partner].toarray(), original["atac"].layers["counts"][i].toarray()
        )
    assert rows_rna.tolist() == list(range(n))
    assert not set(dataset.mdata["rna"].obs_names) & set(dataset.mdata["atac"].obs_names)


def test_paired_subsample_keeps_labels():
    dataset = load_dataset("cbmc_cite", n_cells=200, seed=1)
    assert dataset.paired and dataset.mdata.n_obs == 200
    assert dataset.n_labels == len(np.unique(dataset.labels))
