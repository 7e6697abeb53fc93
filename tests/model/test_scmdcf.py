import copy

import lightning.pytorch as pl
import mudata as md
import numpy as np
import pytest
import scvi
import torch
from scvi.module import Classifier
from sklearn.metrics import adjusted_rand_score

from scvi_contrastive.benchmark.metrics import cluster_scores
from scvi_contrastive.benchmark.preprocess import rna_pca
from scvi_contrastive.data import marker_labels, read_cite_seq, read_dataset, read_pbmc_multiome
from scvi_contrastive.model import SCMDCF
from scvi_contrastive.model.scmdcf import (
    DEFAULT_CELL_PASSES,
    DEFAULT_MAX_EPOCHS,
    MIN_EPOCHS,
    default_max_epochs,
)
from scvi_contrastive.tools.clustering import leiden_nearest_k

MODS = {"rna": "rna_layer", "protein_expression": "protein_layer", "accessibility": "atac_layer"}
TRAIN = {"enable_progress_bar": False, "batch_size": 64}


def synthetic(n_batches=2, cells_per_batch=60):
    mdata = scvi.data.synthetic_iid(
        batch_size=cells_per_batch,
        n_genes=40,
        n_proteins=12,
        n_regions=30,
        n_batches=n_batches,
        return_mudata=True,
    )
    mdata.obs_names = [f"cell_{i}" for i in range(mdata.n_obs)]
    for mod in mdata.mod.values():
        mod.obs_names = mdata.obs_names
    return mdata


def setup(mdata, mods=("rna", "protein_expression"), **kwargs):
    modalities = {MODS[m]: m for m in mods}
    SCMDCF.setup_mudata(mdata, modalities=modalities, **kwargs)
    return mdata


@pytest.mark.parametrize(
    "mods",
    [
        ("rna", "protein_expression"),
        ("rna", "accessibility"),
        ("protein_expression", "accessibility"),
        ("rna", "protein_expression", "accessibility"),
    ],
)
def test_modality_combinations(mods):
    mdata = setup(synthetic(), mods)
    model = SCMDCF(mdata, n_latent=6, n_clusters=3)
    model.train(max_epochs=3, **TRAIN)
    latent = model.get_latent_representation()
    # The default fusion puts the modality embeddings side by side.
    assert latent.shape == (mdata.n_obs, 6 * len(mods)) == (mdata.n_obs, model.module.n_joint)
    assert np.isfinite(latent).all()
    for mod in model.module.modalities:
        per_mod = model.get_latent_representation(modality=mod)
        assert per_mod.shape == (mdata.n_obs, 6) and np.isfinite(per_mod).all()
        values = model.get_normalized_expression(modality=mod)
        assert values.shape[0] == mdata.n_obs and np.isfinite(values.to_numpy()).all()
    if "accessibility" in mods:
        regions = list(mdata["accessibility"].var_names[[3, 0]])
        accessibility = model.get_normalized_accessibility(region_list=regions)
        probabilities = model.get_normalized_expression(modality="atac")
        assert list(accessibility.columns) == regions
        np.testing.assert_array_equal(accessibility.to_numpy(), probabilities[regions].to_numpy())
        assert ((accessibility.to_numpy() >= 0) & (accessibility.to_numpy() <= 1)).all()
        with pytest.raises(ValueError, match="region_list"):
            model.get_normalized_accessibility(region_list=["not_a_region"])
    else:
        with pytest.raises(ValueError, match="no ATAC modality"):
            model.get_normalized_accessibility()
    clusters = model.get_cluster_assignments()
    assert clusters.shape == (mdata.n_obs,) and set(clusters) <= {0, 1, 2}
    weights = model.get_fusion_weights()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert list(weights.columns) == model.module.modalities


def test_batches_and_covariates():
    mdata = synthetic(n_batches=3)
    rng = np.random.default_rng(0)
    mdata.obs["donor"] = rng.choice(["a", "b"], mdata.n_obs)
    mdata.obs["percent_mito"] = rng.random(mdata.n_obs)
    setup(
        mdata,
        batch_key="batch",
        categorical_covariate_keys=["donor"],
        continuous_covariate_keys=["percent_mito"],
    )
    model = SCMDCF(mdata, n_latent=5, n_clusters=3)
    assert model.summary_stats.n_batch == 3
    model.train(max_epochs=2, **TRAIN)
    base = model.get_normalized_expression(modality="rna")
    as_batch_0 = model.get_normalized_expression(modality="rna", transform_batch="batch_0")
    assert base.shape == as_batch_0.shape
    assert not np.allclose(base.to_numpy(), as_batch_0.to_numpy())
    with pytest.raises(ValueError, match="transform_batch"):
        model.get_normalized_expression(transform_batch="batch_9")


class _ClassifierAtStart(pl.Callback):
    """The adversarial classifier's weights when training starts."""

    def on_train_start(self, trainer, pl_module):
        self.weights = copy.deepcopy(pl_module.adversarial_classifier.state_dict())


def test_batches_train_against_an_adversarial_batch_classifier():
    model = SCMDCF(setup(synthetic(), batch_key="batch"), n_latent=5, n_clusters=3)
    start = _ClassifierAtStart()
    model.train(max_epochs=3, callbacks=[start], **TRAIN)
    plan = model.trainer.lightning_module
    assert isinstance(plan.adversarial_classifier, Classifier)
    trained = plan.adversarial_classifier.state_dict()
    assert any(not torch.equal(w, trained[k]) for k, w in start.weights.items())
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()

    model = SCMDCF(setup(synthetic(), batch_key="batch"), n_latent=5, n_clusters=3)
    model.train(max_epochs=1, adversarial_classifier=False, **TRAIN)
    assert model.trainer.lightning_module.automatic_optimization

    one_batch = SCMDCF(setup(synthetic(n_batches=1)), n_latent=5, n_clusters=3)
    one_batch.train(max_epochs=1, **TRAIN)
    assert one_batch.trainer.lightning_module.adversarial_classifier is False
    with pytest.raises(ValueError, match=r"adversarial_classifier.*more than one batch"):
        one_batch.train(max_epochs=1, adversarial_classifier=True, **TRAIN)


@pytest.mark.parametrize("contrastive_loss", ["mutual_information", "info_nce"])
def test_training_lowers_each_loss_and_logs_terms(contrastive_loss):
    mdata = setup(synthetic())
    model = SCMDCF(mdata, n_latent=6, n_clusters=3, contrastive_loss=contrastive_loss)
    model.train(max_epochs=30, n_epochs_pretrain=15, **TRAIN)
    history = model.history
    for term in ("reconstruction_rna", "reconstruction_protein", "contrastive_rna_protein"):
        series = history[f"{term}_train"].to_numpy(dtype=float).ravel()
        assert np.isfinite(series).all()
        if term.startswith("reconstruction"):
            assert series[-1] < series[0], term
    clustering = history["clustering_train"].dropna().to_numpy(dtype=float).ravel()
    assert 0 < len(clustering) <= 15  # only logged in the clustering phase
    train_loss = history["train_loss"].to_numpy(dtype=float).ravel()
    assert train_loss[14] < train_loss[0]


def test_n_clusters_none_picks_k_by_leiden():
    mdata = setup(synthetic())
    model = SCMDCF(mdata, n_latent=6)
    model.train(max_epochs=4, **TRAIN)
    k = int(model.module.dec.n_active)
    assert k >= 2
    soft = model.get_cluster_assignments(soft=True)
    assert soft.shape == (mdata.n_obs, k)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-5)


def test_cells_measured_in_some_modalities():
    full = synthetic()
    rna = full["rna"].copy()
    prot = full["protein_expression"][: full.n_obs // 2].copy()
    mdata = md.MuData({"rna": rna, "protein_expression": prot})
    rna_before = rna.X.copy()
    setup(mdata)
    assert mdata.n_obs == full.n_obs
    model = SCMDCF(mdata, n_latent=6, n_clusters=3)
    model.train(max_epochs=3, **TRAIN)
    latent = model.get_latent_representation()
    assert np.isfinite(latent).all() and latent.shape == (full.n_obs, 12)
    protein_latent = model.get_latent_representation(modality="protein")
    measured = mdata.obs_names.isin(prot.obs_names)
    assert np.isfinite(protein_latent[measured]).all()
    assert np.isnan(protein_latent[~measured]).all()
    weights = model.get_fusion_weights()
    np.testing.assert_allclose(weights.loc[~measured, "protein"], 0.0)
    imputed = model.get_normalized_expression(modality="protein")
    assert np.isfinite(imputed.to_numpy()).all()
    np.testing.assert_array_equal(mdata["rna"].X, rna_before)


def test_save_load_round_trip(tmp_path):
    mdata = setup(synthetic(), batch_key="batch")
    model = SCMDCF(mdata, n_latent=6, n_clusters=3)
    model.train(max_epochs=3, **TRAIN)
    latent = model.get_latent_representation()
    clusters = model.get_cluster_assignments()
    model.save(tmp_path / "model", save_anndata=True)
    loaded = SCMDCF.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.get_latent_representation(), latent)
    np.testing.assert_array_equal(loaded.get_cluster_assignments(), clusters)
    with_data = SCMDCF.load(tmp_path / "model", adata=mdata)
    np.testing.assert_array_equal(with_data.get_latent_representation(), latent)


def test_a_wider_rna_block_trains_and_round_trips(tmp_path):
    mdata = setup(synthetic(), ("rna", "protein_expression", "accessibility"))
    model = SCMDCF(mdata, n_latent=4, n_latent_rna=8, n_clusters=3)
    model.train(max_epochs=3, **TRAIN)
    latent = model.get_latent_representation()
    assert latent.shape == (mdata.n_obs, 8 + 4 + 4) and np.isfinite(latent).all()
    assert model.get_latent_representation(modality="rna").shape == (mdata.n_obs, 8)
    assert model.get_latent_representation(modality="protein").shape == (mdata.n_obs, 4)
    model.save(tmp_path / "model", save_anndata=True)
    loaded = SCMDCF.load(tmp_path / "model")
    assert loaded.module.n_latents == model.module.n_latents
    np.testing.assert_array_equal(loaded.get_latent_representation(), latent)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda m: m["rna"].X.__setitem__((0, 0), 0.5), "non-integer"),
        (lambda m: m["rna"].X.__setitem__((0, 0), np.nan), "NaN"),
        (lambda m: m["rna"].X.__setitem__((0, 0), -1), "negative"),
    ],
)
def test_bad_counts_raise(corrupt, message):
    mdata = synthetic()
    mdata["rna"].X = mdata["rna"].X.astype(np.float32)
    corrupt(mdata)
    with pytest.raises(ValueError, match=message):
        setup(mdata)


def test_missing_layer_modality_and_bad_arguments():
    mdata = synthetic()
    with pytest.raises(ValueError, match=r"Layer 'counts' .`rna_layer`. not found"):
        setup(mdata, rna_layer="counts")
    with pytest.raises(ValueError, match="Modality 'prot' not found"):
        SCMDCF.setup_mudata(mdata, modalities={"rna_layer": "rna", "protein_layer": "prot"})
    with pytest.raises(ValueError, match="at least two modalities"):
        SCMDCF.setup_mudata(mdata, modalities={"rna_layer": "rna"})
    with pytest.raises(ValueError, match=r"Unknown key.*prot_layer"):
        SCMDCF.setup_mudata(mdata, modalities={"rna_layer": "rna", "prot_layer": "p"})
    with pytest.raises(ValueError, match="`modalities` is required"):
        SCMDCF.setup_mudata(mdata)
    with pytest.raises(TypeError, match="setup_mudata"):
        SCMDCF.setup_anndata(mdata["rna"])
    with pytest.raises(TypeError, match="MuData"):
        SCMDCF.setup_mudata(mdata["rna"], modalities={"rna_layer": "rna"})


def test_cells_without_any_counts_raise():
    mdata = synthetic()
    for mod in ("rna", "protein_expression"):
        mdata[mod].X[3] = 0
    with pytest.raises(ValueError, match="no counts in any registered modality"):
        setup(mdata)


def test_real_pbmc10x_cite_clusters_beat_chance():
    mdata = read_cite_seq("pbmc10x_cite")
    SCMDCF.setup_mudata(
        mdata,
        rna_layer="counts",
        protein_layer="counts",
        modalities={"rna_layer": "rna", "protein_layer": "prot"},
    )
    labels = mdata.obs["cell_type"].to_numpy()
    model = SCMDCF(mdata, n_clusters=len(np.unique(labels)))
    model.train(max_epochs=20, enable_progress_bar=False)
    latent = model.get_latent_representation()
    dec_ari = adjusted_rand_score(labels, model.get_cluster_assignments())
    leiden, _ = leiden_nearest_k(len(np.unique(labels)), latent)
    leiden_ari = adjusted_rand_score(labels, leiden)
    shuffled = adjusted_rand_score(np.random.default_rng(0).permutation(labels), leiden)
    print(f"PBMC10x after 20 epochs: DEC ARI {dec_ari:.3f}, Leiden ARI {leiden_ari:.3f}")
    assert max(dec_ari, leiden_ari) >= 0.5
    assert abs(shuffled) < 0.05


def test_real_multiome_separates_marker_defined_cell_types():
    mdata = read_pbmc_multiome()
    SCMDCF.setup_mudata(
        mdata,
        rna_layer="counts",
        atac_layer="counts",
        modalities={"rna_layer": "rna", "atac_layer": "atac"},
    )
    model = SCMDCF(mdata, n_clusters=6)
    model.train(max_epochs=40, enable_progress_bar=False)
    latent = model.get_latent_representation()
    groups = marker_labels(mdata["rna"])
    labelled = (groups != "unassigned").to_numpy()
    purity = knn_purity(latent[labelled], groups[labelled].to_numpy())
    chance = groups[labelled].value_counts(normalize=True).pow(2).sum()
    print(f"Multiome marker groups: kNN purity {purity:.3f} (chance {chance:.3f})")
    assert purity > 0.8 and purity > chance + 0.3


def knn_purity(latent: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    from sklearn.neighbors import NearestNeighbors

    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(latent).kneighbors(latent)[1][:, 1:]
    return float((labels[neighbours] == labels[:, None]).mean())


def _read_bmmc(name: str, layer: str, modality: str) -> tuple[md.MuData, np.ndarray]:
    """A shipped BMMC set registered with its batches, and its cell types."""
    mdata = read_dataset(name)
    SCMDCF.setup_mudata(
        mdata,
        rna_layer="counts",
        **{layer: "counts"},
        batch_key="batch",
        modalities={"rna_layer": "rna", layer: modality},
    )
    return mdata, mdata.obs["cell_type"].astype(str).to_numpy()


def test_real_bmmc_multiome_beats_rna_pca():
    """The regression of issue 11: the joint embedding fell far below a plain RNA PCA here.

    BMMC Multiome, 500 cells, 21 types, 2 batches, 600 sparse peaks that carry little of the
    cell types. Both embeddings are scored by Leiden at the cluster count nearest 21, averaged
    over three Leiden seeds so the comparison is not one seed's luck. With the default RNA
    input beside ATAC (Pearson residuals, decision 11) the benchmark measured Leiden ARI 0.435
    (worst of five seeds 0.407) against RNA PCA's 0.353 (log-normalised input: 0.352); the
    margin asserted here is about half the worst seed's.
    """
    mdata, labels = _read_bmmc("bmmc_multiome_500", "atac_layer", "atac")
    pca = rna_pca(mdata["rna"], 30, seed=0)
    model = SCMDCF(mdata)
    assert model.module.encoders["rna"].transform.kind == "pearson_residuals"
    model.train(enable_progress_bar=False, accelerator="cpu")
    latent = model.get_latent_representation()

    def leiden_ari(embedding):
        return np.mean([cluster_scores(embedding, labels, seed=s)["leiden_ari"] for s in range(3)])

    ours, baseline = leiden_ari(latent), leiden_ari(pca)
    print(f"BMMC Multiome Leiden ARI: SCMDCF {ours:.3f}, RNA PCA {baseline:.3f}")
    assert ours > baseline + 0.025


def test_pearson_residual_input_trains_and_round_trips(tmp_path):
    mdata = setup(synthetic(), batch_key="batch")
    with pytest.raises(ValueError, match="`rna_input` must be one of"):
        SCMDCF(mdata, rna_input="scaled")
    model = SCMDCF(mdata, n_latent=6, n_clusters=3, rna_input="pearson_residuals")
    model.train(max_epochs=3, **TRAIN)
    latent = model.get_latent_representation()
    assert np.isfinite(latent).all()
    model.save(tmp_path / "model", save_anndata=True)
    loaded = SCMDCF.load(tmp_path / "model")
    assert loaded.module.encoders["rna"].transform.kind == "pearson_residuals"
    np.testing.assert_array_equal(loaded.get_latent_representation(), latent)


def test_default_epochs_follow_a_budget_of_cell_passes():
    sizes = [10, 300, 500, 1_182, 2_500, 6_821, 25_000, 10**6]
    epochs = [default_max_epochs(n) for n in sizes]
    assert np.all(np.diff(epochs) <= 0)
    assert epochs[0] == DEFAULT_MAX_EPOCHS and epochs[-1] == MIN_EPOCHS
    for n, e in zip(sizes, epochs, strict=True):
        if MIN_EPOCHS < e < DEFAULT_MAX_EPOCHS:
            # Between the bounds a default training passes over about the budget's cells.
            assert abs(n * e - DEFAULT_CELL_PASSES) <= n / 2


def test_real_bmmc_cite_adversarial_training_mixes_the_batches():
    """BMMC CITE-seq, two donors of different cell-type composition: the per-batch centring
    alone leaves each type's cells mostly beside their own donor's (README, fifth round); the
    adversarial batch classifier mixes them while the cell types stay as separable."""
    mdata, labels = _read_bmmc("bmmc_cite_600", "protein_layer", "prot")
    batch = mdata.obs["batch"].astype(str).to_numpy()
    latents = {}
    for adversarial in (False, True):
        scvi.settings.seed = 0
        model = SCMDCF(mdata)
        model.train(adversarial_classifier=adversarial, enable_progress_bar=False)
        latents[adversarial] = model.get_latent_representation()
    # Share of each cell's 15 nearest neighbours from the other batch.
    mixing = {a: 1 - knn_purity(z, batch, k=15) for a, z in latents.items()}
    purity = {a: knn_purity(z, labels) for a, z in latents.items()}
    print(f"BMMC CITE-seq, other-batch neighbours {mixing}, label purity {purity}")
    assert mixing[True] > mixing[False] + 0.05
    assert purity[True] > purity[False] - 0.03
