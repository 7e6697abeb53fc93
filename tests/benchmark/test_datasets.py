import numpy as np
import pytest

from scvi_contrastive.benchmark.datasets import DATA_SEED, DATASETS, load_dataset
from scvi_contrastive.data import DATASETS as READERS
from scvi_contrastive.data import read_cite_seq, read_dataset, read_pbmc_multiome


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


@pytest.mark.parametrize(
    "name", [n for n, spec in DATASETS.items() if spec.layout == "paired" and spec.labels]
)
def test_labelled_paired_sets_load_coarse_fine_labels_and_batch(name):
    spec = DATASETS[name]
    dataset = load_dataset(name, n_cells=300)
    original = read_dataset(spec.reader)
    kept = original.obs.loc[dataset.mdata.obs_names]
    np.testing.assert_array_equal(dataset.labels, kept[spec.labels[0]].astype(str))
    assert dataset.n_labels == kept[spec.labels[0]].nunique()
    if len(spec.labels) > 1:
        np.testing.assert_array_equal(dataset.fine_labels, kept[spec.labels[1]].astype(str))
        assert dataset.n_fine_labels > dataset.n_labels
    else:
        assert dataset.fine_labels is None
    assert dataset.batch_key == READERS[spec.reader]["batch"]
    if dataset.batch_key is None:
        assert dataset.batch is None
    else:
        np.testing.assert_array_equal(dataset.batch, kept[dataset.batch_key].astype(str))
        assert len(np.unique(dataset.batch)) == 2


def test_snare_library_sub_batches_are_not_batches():
    dataset = load_dataset("snare_cortex", n_cells=300)
    assert "batch" in dataset.mdata.obs  # its 12 library sub-batches of one sample
    assert dataset.batch is None and dataset.batch_key is None
    assert dataset.label_columns == ("cell_type_coarse", "cell_type")


def test_subsample_is_fixed_whatever_the_method_seed():
    first = load_dataset("bmmc_cite_600", n_cells=200)
    again = load_dataset("bmmc_cite_600", n_cells=200)
    np.testing.assert_array_equal(first.mdata.obs_names, again.mdata.obs_names)
    other = load_dataset("bmmc_cite_600", n_cells=200, seed=DATA_SEED + 1)
    assert not np.array_equal(first.mdata.obs_names, other.mdata.obs_names)


def test_bmmc_multiome_hidden_pairs_point_at_the_same_cell():
    dataset = load_dataset("bmmc_multiome_500_unpaired")
    original = read_dataset("bmmc_multiome_500")
    rows_rna, rows_atac = dataset.true_pairs
    n = original.n_obs
    assert rows_rna.tolist() == list(range(n))
    atac = dataset.mdata["atac"].layers["counts"].toarray()
    np.testing.assert_array_equal(atac[rows_atac - n], original["atac"].layers["counts"].toarray())
    np.testing.assert_array_equal(dataset.batch[rows_rna], dataset.batch[rows_atac])
    np.testing.assert_array_equal(dataset.mdata.obs["batch"], dataset.batch)
    assert dataset.batch_key == "batch"


def _totals(adata) -> np.ndarray:
    return np.asarray(adata.layers["counts"].sum(axis=1)).ravel()


def test_snare_hidden_pairs_subsampled_point_at_the_same_cell():
    dataset = load_dataset("snare_cortex_unpaired", n_cells=300)
    original = read_dataset("snare_cortex")
    rows_rna, rows_atac = dataset.true_pairs
    n = dataset.mdata["rna"].n_obs
    assert n == 300 and dataset.mdata["atac"].n_obs == 300
    # Each cell's (RNA total, ATAC total) is a near-unique fingerprint of the original cell.
    cells = set(zip(_totals(original["rna"]), _totals(original["atac"]), strict=True))
    rna_totals = _totals(dataset.mdata["rna"])[rows_rna]
    atac_totals = _totals(dataset.mdata["atac"])[rows_atac - n]
    assert set(zip(rna_totals, atac_totals, strict=True)) <= cells
    assert not set(zip(rna_totals, np.roll(atac_totals, 1), strict=True)) <= cells
    np.testing.assert_array_equal(dataset.labels[rows_rna], dataset.labels[rows_atac])
    np.testing.assert_array_equal(dataset.fine_labels[rows_rna], dataset.fine_labels[rows_atac])
    assert dataset.batch is None


def test_pbmc10k_split_halves_keep_both_label_levels():
    dataset = load_dataset("pbmc10k_cite_named_unpaired", n_cells=400)
    original = read_dataset("pbmc10k_cite_named").obs
    rna, prot = dataset.mdata["rna"], dataset.mdata["prot"]
    assert rna.n_obs + prot.n_obs == 400
    cells = [c.split(":", 1)[1] for c in dataset.mdata.obs_names]
    assert not {c.split(":", 1)[1] for c in rna.obs_names} & {
        c.split(":", 1)[1] for c in prot.obs_names
    }
    np.testing.assert_array_equal(dataset.labels, original.loc[cells, "cell_type"].astype(str))
    np.testing.assert_array_equal(
        dataset.fine_labels, original.loc[cells, "cell_type_fine"].astype(str)
    )
