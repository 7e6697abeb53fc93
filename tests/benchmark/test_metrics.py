import numpy as np
import pytest

from scvi_contrastive.benchmark.metrics import (
    cell_type_preservation,
    cluster_scores,
    foscttm,
    knn_label_transfer,
    label_transfer_accuracy,
    label_transfer_balanced_accuracy,
    omics_mixing,
    scib_table,
)
from scvi_contrastive.tools.clustering import leiden_clusters

SCORE_KEYS = {
    "leiden_ari",
    "leiden_nmi",
    "leiden_resolution",
    "leiden_n_clusters",
    "kmeans_ari",
    "kmeans_nmi",
}


@pytest.fixture(scope="module")
def blobs():
    """Four well separated Gaussian blobs in 10 dimensions, 60 cells each."""
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=20.0, size=(4, 10))
    labels = np.repeat(np.arange(4), 60)
    return centers[labels] + rng.normal(size=(240, 10)), labels.astype(str)


def test_cluster_scores_perfect_embedding(blobs):
    embedding, labels = blobs
    scores = cluster_scores(embedding, labels)
    assert set(scores) == SCORE_KEYS
    assert scores["kmeans_ari"] == pytest.approx(1.0)
    assert scores["leiden_ari"] == pytest.approx(1.0)
    assert scores["leiden_nmi"] == pytest.approx(1.0)
    assert scores["leiden_n_clusters"] == 4
    assert 0.1 <= scores["leiden_resolution"] <= 1.5


def test_cluster_scores_shuffled_labels_near_zero(blobs):
    embedding, labels = blobs
    shuffled = np.random.default_rng(1).permutation(labels)
    scores = cluster_scores(embedding, shuffled)
    assert abs(scores["kmeans_ari"]) < 0.05
    assert abs(scores["leiden_ari"]) < 0.05


def test_cluster_scores_on_graph_has_no_kmeans(blobs):
    from sklearn.neighbors import kneighbors_graph

    embedding, labels = blobs
    graph = kneighbors_graph(embedding, 15, include_self=False)
    graph = ((graph + graph.T) > 0).astype(float)
    scores = cluster_scores(None, labels, connectivities=graph)
    assert scores["leiden_ari"] == pytest.approx(1.0)
    assert np.isnan(scores["kmeans_ari"])


def test_leiden_clusters_count(blobs):
    embedding, _ = blobs
    clusters = leiden_clusters(embedding, resolution=0.2)
    assert clusters.shape == (240,)
    assert len(np.unique(clusters)) == 4


def test_foscttm_identical_is_zero_and_random_is_half():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 8))
    assert foscttm(x, x) == 0.0
    assert foscttm(x, rng.normal(size=(500, 8))) == pytest.approx(0.5, abs=0.03)


def test_foscttm_known_value_and_chunking():
    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([[0.0], [2.0], [1.0]])
    # x -> y: cell 0 has nothing closer than its match (0/3); cell 1 (true distance 1) has
    # y2 at distance 0 (1/3); cell 2 (true distance 1) has y1 at distance 0 (1/3).
    # y -> x gives the same fractions, so FOSCTTM = (0 + 1/3 + 1/3) / 3.
    expected = 2 / 9
    assert foscttm(x, y) == pytest.approx(expected)
    assert foscttm(x, y, chunk_size=1) == pytest.approx(expected)
    with pytest.raises(ValueError):
        foscttm(x, y[:2])


def test_knn_label_transfer(blobs):
    embedding, labels = blobs
    ref, query = np.arange(0, 240, 2), np.arange(1, 240, 2)
    predicted, confidence = knn_label_transfer(embedding[ref], labels[ref], embedding[query], k=5)
    assert label_transfer_accuracy(labels[query], predicted) == 1.0
    assert label_transfer_balanced_accuracy(labels[query], predicted) == 1.0
    assert np.all(confidence == 1.0)


def test_label_transfer_accuracy_values():
    assert label_transfer_accuracy(["a", "b", "b", "c"], ["a", "b", "c", "c"]) == 0.75
    # per class recall: a 1, b 0.5, c 1
    assert label_transfer_balanced_accuracy(
        ["a", "b", "b", "c"], ["a", "b", "c", "c"]
    ) == pytest.approx(2.5 / 3)


def test_omics_mixing_mixed_vs_separated():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    modality = np.array(["rna", "atac"] * 200)
    mixed = omics_mixing(x, modality)
    separated = omics_mixing(x + 50 * (modality == "rna")[:, None], modality)
    assert 0.8 < mixed <= 1.0
    assert 0.0 <= separated < 0.05


def test_cell_type_preservation(blobs):
    embedding, labels = blobs
    good = cell_type_preservation(embedding, labels)
    bad = cell_type_preservation(embedding, np.random.default_rng(0).permutation(labels))
    assert set(good) == {"silhouette_label", "clisi"}
    assert good["silhouette_label"] > 0.9 and good["clisi"] > 0.95
    assert bad["silhouette_label"] < 0.6


def test_scib_table_single_batch_skips_batch_metrics(blobs, tmp_path):
    import anndata as ad
    import pandas as pd

    embedding, labels = blobs
    noisy = embedding + np.random.default_rng(0).normal(scale=30, size=embedding.shape)
    adata = ad.AnnData(
        obs=pd.DataFrame({"cell_type": labels, "batch": "b0"}, index=[str(i) for i in range(240)]),
        obsm={"good": embedding, "noisy": noisy},
    )
    table = scib_table(adata, ["good", "noisy"], "cell_type", batch_key="batch")
    assert not table.batch_metrics
    assert "skipped" in table.note
    results = table.results.drop(index="Metric Type")
    assert "Batch correction" not in results.columns
    assert results.loc["good", "Bio conservation"] > results.loc["noisy", "Bio conservation"]
    png = tmp_path / "scib.png"
    table.save_plot(png)
    assert png.stat().st_size > 0


@pytest.mark.slow
def test_scib_table_two_batches_runs_batch_metrics(blobs):
    import anndata as ad
    import pandas as pd

    embedding, labels = blobs
    batch = np.array(["b0", "b1"] * 120)
    adata = ad.AnnData(
        obs=pd.DataFrame(
            {"cell_type": labels, "batch": batch}, index=[str(i) for i in range(240)]
        ),
        obsm={"emb": embedding},
    )
    table = scib_table(adata, ["emb"], "cell_type", batch_key="batch")
    assert table.batch_metrics
    assert "Batch correction" in table.results.columns
    assert "PCR" in table.note
