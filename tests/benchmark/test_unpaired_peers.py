"""The unpaired peers on real data: shared gene space, links-based GLUE graph, BICLUM inputs."""

import numpy as np
import pytest

from scvi_contrastive.benchmark.datasets import load_dataset
from scvi_contrastive.benchmark.metrics import foscttm
from scvi_contrastive.benchmark.peers import RunSettings
from scvi_contrastive.benchmark.peers.glue import _exact_scanpy_neighbors, _links_graph
from scvi_contrastive.benchmark.peers.ours import _biclum_mudata, _gene_named_antibodies
from scvi_contrastive.benchmark.peers.unpaired_baselines import (
    _other_in_gene_space,
    run_cca,
    run_gene_activity_pca,
)
from scvi_contrastive.data import peak_lsi, read_dataset


@pytest.fixture(scope="module")
def multiome_unpaired():
    return load_dataset("pbmc_multiome_unpaired")


@pytest.mark.parametrize("run", [run_gene_activity_pca, run_cca])
def test_baselines_align_the_hidden_pairs(multiome_unpaired, run):
    dataset = multiome_unpaired
    result = run(dataset, RunSettings())
    embedding = result.embedding
    assert embedding.shape == (dataset.mdata.n_obs, 30)
    # Unit rows: both sides on the sphere, whatever their overall scale.
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, atol=1e-5)
    rna_rows, partner_rows = dataset.true_pairs
    score = foscttm(embedding[rna_rows], embedding[partner_rows])
    print(f"{result.name}: FOSCTTM {score:.3f}")
    # Random pairs score 0.5; measured 0.213 (joint PCA) and 0.331 (CCA) on this subset.
    assert score < 0.4


def test_biclum_gets_the_baselines_gene_space(multiome_unpaired):
    # The Multiome subset ships Cell Ranger's peak_annotation and RNA gene coordinates: BICLUM
    # must read the ATAC through the same links as the naive baseline, CCA and GLUE.
    mdata, feature_space, neighbors_obsm = _biclum_mudata(multiome_unpaired)
    baseline = _other_in_gene_space(multiome_unpaired)
    assert feature_space == "shared"
    # The encoder reads gene activity, so training gets the peaks' LSI, row by row of the
    # same ATAC cells as the ATAC LSI baseline.
    assert neighbors_obsm == {"atac": "X_lsi"}
    peaks = multiome_unpaired.mdata["atac"]
    np.testing.assert_array_equal(mdata["atac"].obsm["X_lsi"], peak_lsi(peaks))
    assert list(mdata["atac"].obs_names) == list(peaks.obs_names)
    assert list(mdata["atac"].var_names) == list(baseline.var_names)
    assert (mdata["atac"].layers["counts"] != baseline.X).nnz == 0
    # The coordinate path gives the RNA's own 45 genes; the links name more (61).
    assert mdata["atac"].n_vars > mdata["rna"].n_vars


def test_glue_graph_from_links():
    snare = read_dataset("snare_cortex")
    rna, atac = snare["rna"][:, :50].copy(), snare["atac"].copy()
    links = atac.uns["gene_peak_links"]
    graph = _links_graph(rna, atac, links)
    kept = links[links["gene"].isin(rna.var_names)]
    # One edge per link each way, one self-loop per gene and peak.
    assert graph.number_of_edges() == 2 * len(kept) + rna.n_vars + atac.n_vars
    gene, peak = kept.iloc[0]
    assert graph.has_edge(gene, peak) and graph.has_edge(peak, gene)
    assert {d["sign"] for _, _, d in graph.edges(data=True)} == {1}
    # The peaks that GLUE models are those linked to a gene it sees.
    assert set(atac.var_names[atac.var["highly_variable"]]) == set(kept["peak"])


def test_glue_balancing_neighbors_are_exact_on_large_sets():
    # GLUE's balancing weights call scanpy's cosine neighbour search on each modality; from
    # 4,096 cells scanpy's default goes through pynndescent, whose graphs some scanpy
    # versions cannot read. Inside the context the search is sklearn's exact one.
    import anndata as ad
    import scanpy as sc

    original = sc.pp.neighbors
    cells = ad.AnnData(obsm={"X_lsi": np.random.default_rng(0).random((4200, 20))})
    with _exact_scanpy_neighbors():
        sc.pp.neighbors(cells, use_rep="X_lsi", n_pcs=20, metric="cosine")
    assert sc.pp.neighbors is original
    distances = cells.obsp["distances"]
    assert distances.shape == (4200, 4200)
    assert (np.diff(distances.indptr) == 14).all()  # 15 neighbours, the cell itself left out


def test_named_antibodies_pair_with_their_genes():
    cite = read_dataset("pbmc10k_cite_named")
    genes = set(cite["rna"].var_names)
    names = _gene_named_antibodies(cite["prot"], cite["rna"].var_names)
    renamed = dict(zip(cite["prot"].var_names, names, strict=True))
    assert renamed["CD16"] == "FCGR3A" and renamed["CD127"] == "IL7R"
    assert renamed["CD8a"] == "CD8A" and renamed["PD-1"] == "PDCD1"
    assert renamed["CD15"] == "CD15"  # a glycan, no gene: kept as it is
    # CD3E and PTPRC (CD45RA/RO) are not among the 4,000 RNA genes: nothing to pair with.
    assert "CD3E" not in genes and renamed["CD3"] == "CD3"
    assert renamed["CD45RA"] == "CD45RA" and renamed["CD45RO"] == "CD45RO"
    assert len(set(names)) == len(names)
    assert sum(name in genes for name in names) == 10
