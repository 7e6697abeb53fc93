"""Rows of docs/reliability.md on which cells pair: SCMDCF's cells measured in several
modalities, BICLUM's cells of different experiments (distinct names) or partially paired.
"""

import logging

import mudata as md
import pytest
from reliability_cases import CASES, paired_mdata, unpaired_mdata

SCMDCF_CASE, BICLUM_CASE = CASES["SCMDCF"], CASES["BICLUM"]


def _renamed(mdata, modality, prefix, keep=0):
    """``mdata`` with the cells of ``modality`` renamed (all but the first ``keep``)."""
    names = list(mdata[modality].obs_names)
    mdata[modality].obs_names = names[:keep] + [prefix + n for n in names[keep:]]
    mdata.update()
    return mdata


def test_scmdcf_refuses_modalities_that_share_no_cell():
    mdata = _renamed(paired_mdata(), "prot", "other_")
    with pytest.raises(ValueError, match=r"Modality 'rna' shares no cell with \['prot'\].*BICLUM"):
        SCMDCF_CASE.setup(mdata)


def test_scmdcf_warns_when_few_cells_are_paired():
    mdata = _renamed(paired_mdata(), "prot", "other_", keep=4)
    with pytest.warns(UserWarning, match=r"Only 4 of the 60 cells .* measured in both.*BICLUM"):
        SCMDCF_CASE.setup(mdata)


def test_scmdcf_takes_a_modality_measured_in_a_subset_of_the_cells(recwarn):
    mdata = paired_mdata()
    mdata.mod["prot"] = mdata["prot"][:20].copy()
    mdata.update()
    SCMDCF_CASE.setup(mdata)  # every protein cell has RNA: fully paired where measured
    assert not [w for w in recwarn if "measured in both" in str(w.message)]


def _indexed_alike():
    """Two experiments whose cells are both named 0, 1, …: MuData merges them by name."""
    mdata = unpaired_mdata()
    for name in mdata.mod:
        mdata[name].obs_names = [str(i) for i in range(mdata[name].n_obs)]
    return md.MuData(dict(mdata.mod))


def test_biclum_refuses_cells_of_two_experiments_indexed_alike():
    with pytest.raises(ValueError, match=r"share 50 cell names .*'atac_' \+ mdata.mod\['atac'\]"):
        BICLUM_CASE.setup(_indexed_alike())


def test_biclum_logs_the_cells_measured_in_both(caplog):
    with caplog.at_level(logging.INFO, logger="scvi_contrastive.model"):
        BICLUM_CASE.setup(unpaired_mdata())
    assert "0 cells measured in both modalities (rna: 60 cells, atac: 50 cells)" in caplog.text
    mdata = _indexed_alike()
    with caplog.at_level(logging.INFO, logger="scvi_contrastive.model"):
        BICLUM_CASE.setup(mdata, partially_paired=True)
    assert "50 cells measured in both modalities" in caplog.text
    assert BICLUM_CASE.cls(mdata, **BICLUM_CASE.init).adata.n_obs == 60
