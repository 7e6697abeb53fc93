"""Neighbour graphs beyond 8,192 cells, where scanpy's default search switches to pynndescent.

scanpy 1.11 (what Python 3.11 installs) cannot read the graphs of pynndescent 0.7
(`csr_array` has no `getnnz`), so the benchmark's WNN peer and its UMAP figures failed on SNARE
cortex's 10,309 cells; both now search exactly (tools.clustering.neighbors_graph).
"""

import numpy as np
import pytest
import scanpy as sc

from scvi_contrastive.benchmark import plots
from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers.baselines import run_wnn
from scvi_contrastive.benchmark.runner import RunSettings
from scvi_contrastive.benchmark.synthetic import synthetic_paired

N_CELLS = 8_300  # above scanpy's switch to pynndescent (8,192 cells, Euclidean metric)


def test_umap_of_more_cells_than_scanpy_searches_exactly(monkeypatch):
    graphs = {}

    def layout_only(view, random_state=0):
        # The neighbour graph is what failed; UMAP's optimisation of 8,300 cells is not tested.
        graphs["rows"] = view.obsp["connectivities"].shape[0]
        view.obsm["X_umap"] = np.zeros((view.n_obs, 2))

    monkeypatch.setattr(sc.tl, "umap", layout_only)
    embedding = np.random.default_rng(0).normal(size=(N_CELLS, 16))
    coords = plots._umap(embedding, None, seed=0)
    assert coords.shape == (N_CELLS, 2)
    assert graphs["rows"] == N_CELLS


@pytest.mark.slow
def test_wnn_on_more_cells_than_scanpy_searches_exactly():
    mdata = synthetic_paired(N_CELLS, n_genes=200, seed=0)  # counts in .X, as WNN reads them
    labels = np.asarray(mdata.obs["cell_type"])
    dataset = BenchmarkDataset(
        "large", mdata=mdata, modalities=("rna", "prot"), paired=True, labels=labels
    )
    result = run_wnn(dataset, RunSettings())
    graph = result.connectivities
    assert graph.shape == (N_CELLS, N_CELLS)
    assert np.isfinite(graph.data).all()
    # Each cell's strongest WNN neighbour shares its type: the graph is of these cells.
    strongest = np.asarray(graph.argmax(axis=1)).ravel()
    assert (labels[strongest] == labels).mean() > 0.9
