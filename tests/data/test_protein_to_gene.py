import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from scvi_contrastive.data.protein_to_gene import ANTIBODY_TO_GENE, protein_to_gene

# A 10x TotalSeq-B PBMC panel as Cell Ranger names it, plus other panels' spellings.
PANEL = [
    "CD3_TotalSeqB",
    "CD4_TotalSeqB",
    "CD8a_TotalSeqB",
    "CD14_TotalSeqB",
    "CD16_TotalSeqB",
    "CD45RA_TotalSeqB",
    "CD45RO_TotalSeqB",
    "PD-1_TotalSeqB",
    "IgG1_control_TotalSeqB",
    "HLA.DR",  # R's make.names spelling (Seurat bmcite)
    "CD127-IL7Ra",  # target plus alias
    "ADT_CD56",
    "cd19-TotalA",
]
GENES = [
    "CD3E",
    "CD4",
    "CD8A",
    "CD14",
    "FCGR3A",
    "PTPRC",
    "PDCD1",
    "HLA-DRA",
    "IL7R",
    "NCAM1",
    "CD19",
]


def _prot(names=PANEL, dense: bool = False) -> ad.AnnData:
    counts = np.arange(2 * len(names), dtype=np.float32).reshape(2, len(names))
    matrix = counts if dense else sparse.csr_matrix(counts)
    adata = ad.AnnData(
        X=matrix,
        obs=pd.DataFrame({"donor": ["a", "b"]}, index=["c0", "c1"]),
        var=pd.DataFrame(index=names),
    )
    adata.layers["counts"] = matrix.copy()
    return adata


def _column(adata: ad.AnnData, name: str) -> np.ndarray:
    values = adata[:, name].X
    return np.asarray(values.toarray() if sparse.issparse(values) else values).ravel()


def test_default_table_maps_common_panels():
    prot = _prot()
    with pytest.warns(UserWarning, match=r"IgG1_control_TotalSeqB"):
        result = protein_to_gene(prot)
    assert list(result.var_names) == GENES
    assert result.var.loc["FCGR3A", "antibody"] == "CD16_TotalSeqB"
    assert result.var.loc["HLA-DRA", "antibody"] == "HLA.DR"
    assert result.uns["protein_to_gene"]["unmapped"] == ["IgG1_control_TotalSeqB"]
    np.testing.assert_array_equal(_column(result, "NCAM1"), _column(prot, "ADT_CD56"))
    pd.testing.assert_frame_equal(result.obs, prot.obs)
    assert sparse.issparse(result.X) and result.X.dtype == np.float32
    np.testing.assert_array_equal(result.layers["counts"].toarray(), result.X.toarray())


def test_table_entries_are_gene_symbols():
    assert ANTIBODY_TO_GENE["CD3"] == "CD3E"
    assert ANTIBODY_TO_GENE["CD57"] == "B3GAT1"
    assert ANTIBODY_TO_GENE["CD161"] == "KLRB1"
    assert all(gene == gene.upper() for gene in ANTIBODY_TO_GENE.values())


def test_duplicates_are_summed_and_reported(caplog):
    prot = _prot()
    with caplog.at_level(logging.INFO, logger="scvi_contrastive.data.protein_to_gene"):
        result = protein_to_gene(prot, {"IgG1_control": "IGHG1"})
    assert "PTPRC: CD45RA_TotalSeqB, CD45RO_TotalSeqB" in caplog.text
    expected = _column(prot, "CD45RA_TotalSeqB") + _column(prot, "CD45RO_TotalSeqB")
    np.testing.assert_array_equal(_column(result, "PTPRC"), expected)
    assert result.var.loc["PTPRC", "antibody"] == "CD45RA_TotalSeqB,CD45RO_TotalSeqB"
    assert result.uns["protein_to_gene"]["merged"] == {
        "PTPRC": ["CD45RA_TotalSeqB", "CD45RO_TotalSeqB"]
    }


def test_duplicates_first_keeps_first_and_warns():
    prot = _prot(PANEL[:8])  # no isotype control, so the only warning is the duplicate one
    with pytest.warns(UserWarning, match="keeping the first"):
        result = protein_to_gene(prot, duplicates="first")
    np.testing.assert_array_equal(_column(result, "PTPRC"), _column(prot, "CD45RA_TotalSeqB"))
    assert result.var.loc["PTPRC", "antibody"] == "CD45RA_TotalSeqB"
    assert result.uns["protein_to_gene"]["merged"]["PTPRC"][1] == "CD45RO_TotalSeqB"


def test_mapping_overrides_and_extends():
    mapping = {"CD3": "CD3D", "igg1-control": "IGHG1", "CD45RO_TotalSeqB": "NOPE"}
    result = protein_to_gene(_prot(), mapping)  # every antibody maps: no warning
    assert result.uns["protein_to_gene"]["unmapped"] == []
    assert result.var.loc["CD3D", "antibody"] == "CD3_TotalSeqB"
    assert "CD3E" not in result.var_names
    assert result.var.loc["IGHG1", "antibody"] == "IgG1_control_TotalSeqB"
    # CD45RO now maps to a gene of its own, so PTPRC is CD45RA alone.
    assert result.var.loc["PTPRC", "antibody"] == "CD45RA_TotalSeqB"
    assert result.var.loc["NOPE", "antibody"] == "CD45RO_TotalSeqB"


def test_mapping_only_and_gene_symbols():
    names = ["CD4_TotalSeqB", "TIGIT", "Siglec-8", "CD99"]
    with pytest.warns(UserWarning, match=r"\['TIGIT', 'Siglec-8', 'CD99'\]"):
        result = protein_to_gene(_prot(names), {"CD4": "CD4"}, use_default_table=False)
    assert list(result.var_names) == ["CD4"]
    with pytest.warns(UserWarning, match=r"\['Siglec-8'\]"):
        result = protein_to_gene(_prot(names), gene_symbols=pd.Index(["CD4", "TIGIT", "CD99"]))
    assert list(result.var_names) == ["CD4", "TIGIT", "CD99"]


def test_dense_counts_stay_dense():
    with pytest.warns(UserWarning):
        result = protein_to_gene(_prot(dense=True))
        reference = protein_to_gene(_prot())
    assert isinstance(result.X, np.ndarray) and result.X.dtype == np.float32
    np.testing.assert_array_equal(result.X, reference.X.toarray())


def test_errors_and_no_mutation():
    with pytest.raises(ValueError, match="None of the 2 antibodies"):
        protein_to_gene(_prot(["IgG1", "IgG2a"]))
    with pytest.raises(ValueError, match="`duplicates`"):
        protein_to_gene(_prot(), duplicates="mean")
    prot = _prot()
    before = prot.copy()
    with pytest.warns(UserWarning):
        protein_to_gene(prot)
    assert list(prot.var_names) == PANEL
    np.testing.assert_array_equal(prot.X.toarray(), before.X.toarray())
    pd.testing.assert_frame_equal(prot.var, before.var)
    assert not prot.uns


def test_result_writes_to_h5ad(tmp_path):
    with pytest.warns(UserWarning):
        result = protein_to_gene(_prot())
    result.write_h5ad(tmp_path / "prot.h5ad")
    back = ad.read_h5ad(tmp_path / "prot.h5ad")
    assert list(back.uns["protein_to_gene"]["unmapped"]) == ["IgG1_control_TotalSeqB"]
    assert list(back.var_names) == GENES
