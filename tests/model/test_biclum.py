import anndata as ad
import mudata as md
import numpy as np
import pandas as pd
import pytest
import scvi
import torch
from scipy import sparse

from scvi_contrastive._constants import REGISTRY_KEYS
from scvi_contrastive.dataloaders import UnpairedDataLoader
from scvi_contrastive.model.biclum import BICLUM
from scvi_contrastive.nn.contrastive import neighborhood_loss
from scvi_contrastive.tools.joint_pca import joint_pca
from scvi_contrastive.tools.neighbor_smoothing import smooth_along_neighbors

RNA_ATAC = {"rna_layer": "rna", "atac_layer": "atac"}

SMALL = {"n_latent": 8, "n_hidden": 32, "n_metacells": 16, "mnn_k": 10}
QUIET = {"accelerator": "cpu", "enable_progress_bar": False}


def _structured(n_rna=150, n_other=120, n_genes=40, seed=0):
    """Two modalities of different cells over the same genes, with four cell types."""
    rng = np.random.default_rng(seed)
    programs = rng.gamma(0.6, 1.0, size=(4, n_genes))
    modalities = {}
    for name, n, depth, prefix in (("rna", n_rna, 4.0, "r"), ("atac", n_other, 1.5, "a")):
        labels = rng.integers(0, 4, n)
        counts = rng.poisson(programs[labels] * depth).astype(np.float32)
        adata = ad.AnnData(sparse.csr_matrix(counts))
        adata.layers["counts"] = adata.X.copy()
        adata.obs_names = [f"{prefix}{i}" for i in range(n)]
        adata.var_names = [f"g{j}" for j in range(n_genes)]
        adata.obs["cell_type"] = pd.Categorical([f"t{label}" for label in labels])
        modalities[name] = adata
    mdata = md.MuData(modalities)
    mdata.obs["cell_type"] = pd.concat([m.obs["cell_type"] for m in modalities.values()]).astype(
        str
    )
    return mdata


def _iid(n_cells=200, n_genes=30):
    """``scvi.data.synthetic_iid`` split into two halves of different cells."""
    adata = scvi.data.synthetic_iid(
        batch_size=n_cells // 2, n_genes=n_genes, n_proteins=0, n_regions=0, n_batches=2
    )
    half = adata.n_obs // 2
    rna, atac = adata[:half].copy(), adata[half:].copy()
    rna.obs_names = [f"rna_{i}" for i in range(rna.n_obs)]
    atac.obs_names = [f"atac_{i}" for i in range(atac.n_obs)]
    mdata = md.MuData({"rna": rna, "atac": atac})
    mdata.obs["batch"] = pd.concat([rna.obs["batch"], atac.obs["batch"]]).astype(str)
    return mdata


@pytest.fixture(scope="module")
def trained():
    scvi.settings.seed = 0
    mdata = _structured()
    BICLUM.setup_mudata(
        mdata, rna_layer="counts", atac_layer="counts", labels_key="cell_type", modalities=RNA_ATAC
    )
    model = BICLUM(mdata, **SMALL)
    model.train(max_epochs=15, batch_size=32, mnn_refresh_every=5, **QUIET)
    return model


def test_setup_adds_documented_entries_and_leaves_data_alone():
    mdata = _iid()
    before = {name: mdata.mod[name].X.copy() for name in mdata.mod}
    obsm_before, uns_before = set(mdata.obsm), set(mdata.uns)
    BICLUM.setup_mudata(mdata, batch_key="batch", modalities=RNA_ATAC)
    assert set(mdata.obsm) - obsm_before == {
        "_scvi_contrastive_observed",
        "_scvi_contrastive_rna",
        "_scvi_contrastive_atac",
    }
    assert {"_scvi_contrastive_rna_var_names", "_scvi_contrastive_atac_var_names"} <= (
        set(mdata.uns) - uns_before
    )
    aligned = mdata.obsm["_scvi_contrastive_atac"]
    rows = mdata.obs_names.get_indexer(mdata.mod["atac"].obs_names)
    np.testing.assert_array_equal(aligned[rows].toarray(), before["atac"])
    assert aligned.shape == (mdata.n_obs, 30) and aligned[: mdata.mod["rna"].n_obs].nnz == 0
    observed = mdata.obsm["_scvi_contrastive_observed"]
    assert observed["atac"].sum() == mdata.mod["atac"].n_obs
    for name, matrix in before.items():
        np.testing.assert_array_equal(mdata.mod[name].X, matrix)


def test_training_lowers_the_loss_and_logs_each_term():
    mdata = _iid()
    BICLUM.setup_mudata(mdata, batch_key="batch", modalities=RNA_ATAC)
    model = BICLUM(mdata, **SMALL)
    model.train(max_epochs=12, batch_size=32, **QUIET)
    history = model.history
    for term in (
        "reconstruction_rna",
        "reconstruction_atac",
        "cell_contrastive",
        "feature_contrastive",
    ):
        assert f"{term}_train" in history
    loss = history["train_loss"].to_numpy(dtype=float).ravel()
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


def test_latent_representation_order_and_modalities(trained):
    mdata = trained.adata
    z = trained.get_latent_representation()
    assert z.shape == (mdata.n_obs, 8) and np.isfinite(z).all()
    z_atac = trained.get_latent_representation(modality="atac")
    is_atac = mdata.obs_names.str.startswith("a")
    assert np.isnan(z_atac[~is_atac]).all()
    np.testing.assert_allclose(z_atac[is_atac], z[is_atac], rtol=1e-6)
    subset = trained.get_latent_representation(indices=[5, 200, 3], batch_size=2)
    np.testing.assert_allclose(subset, z[[5, 200, 3]], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="modality"):
        trained.get_latent_representation(modality="protein")


def test_minibatches_hold_both_modalities_with_pairs_first(trained):
    rows = trained._modality_rows(trained.adata_manager)
    loader = UnpairedDataLoader(
        trained.adata_manager,
        rows,
        {"rna": "X", "atac": "atac"},
        batch_size=16,
        pair_source=trained._current_pairs,
        pair_fraction=0.5,
    )
    assert len(loader) == int(np.ceil(150 / 16))
    pairs = set(zip(*trained.mnn_pairs_, strict=True))
    batch = next(iter(loader))
    assert set(batch) == {"rna", "atac"}
    for name in ("rna", "atac"):
        assert batch[name]["X"].shape == (16, 40)
        assert (
            batch[name][REGISTRY_KEYS.PAIR_KEY][:8].sum() == 8
            and batch[name][REGISTRY_KEYS.PAIR_KEY][8:].sum() == 0
        )
    # The flagged rows are positive pairs: check them through their counts.
    aligned = {
        name: trained.adata.obsm[f"_scvi_contrastive_{name}"].toarray() for name in ("rna", "atac")
    }
    for i in range(8):
        row_a = np.flatnonzero((aligned["rna"] == batch["rna"]["X"][i].numpy()).all(axis=1))
        row_b = np.flatnonzero((aligned["atac"] == batch["atac"]["X"][i].numpy()).all(axis=1))
        assert any((a, b) in pairs for a in row_a for b in row_b)


def test_mnn_pairs_are_refreshed_and_cross_modal(trained):
    pairs = trained.get_mnn_pairs()
    assert list(pairs.columns) == ["rna", "atac"] and len(pairs) > 0
    assert pairs["rna"].str.startswith("r").all() and pairs["atac"].str.startswith("a").all()
    initial = set(zip(*trained.initial_mnn_pairs_, strict=True))
    current = set(zip(*trained.mnn_pairs_, strict=True))
    assert initial < current  # refreshed latent pairs added to the initial ones


def test_feature_embeddings(trained):
    embeddings = trained.get_feature_embeddings()
    assert set(embeddings) == {"rna", "atac"}
    for frame in embeddings.values():
        assert frame.shape == (40, 8)
        assert list(frame.index) == [f"g{j}" for j in range(40)]
        assert np.isfinite(frame.to_numpy()).all()


def test_transfer_labels_between_modalities(trained):
    predictions = trained.transfer_labels(k=10)
    atac_cells = trained.adata.mod["atac"].obs_names
    assert list(predictions.index) == list(atac_cells)
    assert list(predictions.columns) == ["predicted", "confidence"]
    assert predictions["confidence"].between(0, 1).all()
    truth = trained.adata.mod["atac"].obs["cell_type"].astype(str).to_numpy()
    assert np.mean(predictions["predicted"].to_numpy() == truth) > 0.9
    with pytest.raises(ValueError, match="source"):
        trained.transfer_labels(source="protein")
    with pytest.raises(ValueError, match=r"got 'celltype'.*mudata 0\.4.*mdata\['rna'\]\.obs"):
        trained.transfer_labels("celltype")


def test_smoothing_along_an_own_space_in_the_getters(trained):
    atac = trained.adata.mod["atac"]
    truth = atac.obs["cell_type"].cat.codes.to_numpy()
    own = np.eye(4)[truth] + 0.1 * np.random.default_rng(0).normal(size=(atac.n_obs, 4))
    atac.obsm["X_own"] = own
    try:
        z = trained.get_latent_representation()
        smoothed = trained.get_latent_representation(smooth_obsm={"atac": "X_own"})
        rows = trained.adata.obs_names.get_indexer(atac.obs_names)
        expected = smooth_along_neighbors(z[rows], own)
        np.testing.assert_allclose(smoothed[rows], expected, rtol=1e-5, atol=1e-5)
        others = np.setdiff1d(np.arange(trained.adata.n_obs), rows)
        np.testing.assert_array_equal(smoothed[others], z[others])
        predictions = trained.transfer_labels(k=10, smooth_obsm={"atac": "X_own"})
        assert list(predictions.index) == list(atac.obs_names)
        labels = atac.obs["cell_type"].astype(str).to_numpy()
        assert np.mean(predictions["predicted"].to_numpy() == labels) > 0.9
        with pytest.raises(ValueError, match="modality names"):
            trained.get_latent_representation(smooth_obsm={"protein": "X_own"})
        with pytest.raises(ValueError, match="X_lsi"):
            trained.transfer_labels(smooth_obsm={"atac": "X_lsi"})
    finally:
        del atac.obsm["X_own"]


def test_save_load_gives_the_same_latent(trained, tmp_path):
    z = trained.get_latent_representation()
    trained.save(tmp_path / "biclum", save_anndata=True, overwrite=True)
    loaded = BICLUM.load(tmp_path / "biclum", adata=trained.adata)
    np.testing.assert_array_equal(loaded.get_latent_representation(), z)
    np.testing.assert_array_equal(loaded.mnn_pairs_, trained.mnn_pairs_)
    from_disk = BICLUM.load(tmp_path / "biclum")
    np.testing.assert_array_equal(from_disk.get_latent_representation(), z)


def test_concatenated_anndata_form():
    mdata = _structured(n_rna=80, n_other=60)
    adata = ad.concat(
        {"rna": mdata.mod["rna"], "atac": mdata.mod["atac"]}, label="modality", index_unique="-"
    )
    BICLUM.setup_anndata(adata, modality_key="modality", layer="counts", labels_key="cell_type")
    model = BICLUM(adata, **SMALL)
    model.train(max_epochs=3, batch_size=32, **QUIET)
    assert model.get_latent_representation().shape == (140, 8)
    assert len(model.transfer_labels(source="rna")) == 60
    with pytest.raises(ValueError, match="exactly two modalities"):
        adata.obs["modality"] = np.resize(["a", "b", "c"], adata.n_obs)
        BICLUM.setup_anndata(adata, modality_key="modality")


def test_paired_cells_are_embedded_from_both_modalities():
    adata = scvi.data.synthetic_iid(batch_size=60, n_genes=20, n_proteins=0, n_regions=0)
    adata.obs_names = [f"c{i}" for i in range(adata.n_obs)]
    mdata = md.MuData({"rna": adata.copy(), "atac": adata.copy()})
    BICLUM.setup_mudata(mdata, modalities=RNA_ATAC)
    model = BICLUM(mdata, **SMALL)
    model.train(max_epochs=2, batch_size=32, **QUIET)
    z_rna = model.get_latent_representation(modality="rna")
    z_atac = model.get_latent_representation(modality="atac")
    np.testing.assert_allclose(model.get_latent_representation(), (z_rna + z_atac) / 2, atol=1e-6)


def test_untrained_cells_sit_at_their_joint_pca_coordinates():
    scvi.settings.seed = 0
    mdata = _structured()
    BICLUM.setup_mudata(mdata, rna_layer="counts", atac_layer="counts", modalities=RNA_ATAC)
    model = BICLUM(mdata, **SMALL)
    logged = []
    for name in ("rna", "atac"):
        counts = mdata.mod[name].layers["counts"].toarray()
        logged.append(np.log1p(counts / counts.sum(1, keepdims=True) * 1e4))
    for name, z_pca in zip(("rna", "atac"), joint_pca(logged, SMALL["n_latent"]), strict=True):
        rows = mdata.obs_names.get_indexer(mdata.mod[name].obs_names)
        z = model.get_latent_representation(modality=name)[rows]
        expected = z_pca / np.linalg.norm(z_pca, axis=1, keepdims=True)
        # Up to each axis's sign, which the eigensolver picks.
        np.testing.assert_allclose(np.abs(z), np.abs(expected), atol=1e-4)


def test_no_joint_pca_start_where_an_encoder_reads_unshared_features():
    mdata = _structured()
    mdata.mod["atac"].var_names = [f"g{j}" if j < 20 else f"peak{j}" for j in range(40)]
    mdata.update()
    BICLUM.setup_mudata(mdata, feature_space="separate", modalities=RNA_ATAC)
    model = BICLUM(mdata, **SMALL)
    assert model.module.has_feature_pairs
    assert all(encoder.linear is None for encoder in model.module.cell_encoders.values())
    shared = _structured()
    BICLUM.setup_mudata(shared, modalities=RNA_ATAC)
    model = BICLUM(shared, pca_start=False, **SMALL)
    assert all(encoder.linear is None for encoder in model.module.cell_encoders.values())


def test_modalities_without_shared_features():
    mdata = _structured()
    mdata.mod["atac"].var_names = [f"peak{j}" for j in range(40)]
    mdata.update()
    with pytest.raises(ValueError, match=r"share no feature names.*feature_space='separate'"):
        BICLUM.setup_mudata(mdata, modalities=RNA_ATAC)
    BICLUM.setup_mudata(mdata, feature_space="separate", modalities=RNA_ATAC)
    with pytest.warns(UserWarning, match="share no features"):
        model = BICLUM(mdata, **SMALL)
    assert not model.module.has_feature_pairs
    model.train(max_epochs=2, batch_size=32, **QUIET)
    assert model.history["feature_contrastive_train"].to_numpy(dtype=float).max() == 0


def _with_bad_counts(kind):
    mdata = _structured(n_rna=40, n_other=30)
    counts = mdata.mod["atac"].layers["counts"]
    counts.data[0] = {"negative": -1.0, "nan": np.nan, "fraction": 0.5}[kind]
    return mdata


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("negative", "layer 'counts' of modality 'atac' contains negative"),
        ("nan", "layer 'counts' of modality 'atac' contains NaN"),
        ("fraction", "layer 'counts' of modality 'atac' contains non-integer"),
    ],
)
def test_bad_counts_name_the_layer(kind, match):
    with pytest.raises(ValueError, match=match):
        BICLUM.setup_mudata(
            _with_bad_counts(kind), rna_layer="counts", atac_layer="counts", modalities=RNA_ATAC
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rna_layer": "raw"}, "Layer 'raw' .`rna_layer`. not found in modality 'rna'"),
        ({"modalities": {"rna_layer": "rna", "atac_layer": "peaks"}}, "'peaks'.*not found"),
        ({"modalities": {"rna_layer": "rna", "atac_layr": "atac"}}, "Unknown key.*atac_layr"),
        ({"modalities": {"rna_layer": "rna"}}, "exactly one of 'atac_layer', 'protein_layer'"),
        ({"batch_key": "donor"}, "'donor' not found"),
        ({"feature_space": "union"}, "feature_space"),
        ({"modalities": None}, r"`modalities` is required, e.g. \{'rna_layer'"),
    ],
)
def test_setup_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BICLUM.setup_mudata(
            _structured(n_rna=20, n_other=20), **{"modalities": RNA_ATAC, **kwargs}
        )


def test_setup_mudata_requires_a_mudata():
    with pytest.raises(TypeError, match="MuData"):
        BICLUM.setup_mudata(_iid().mod["rna"])


# ---------------------------------------------------------------------------- real data


def _read(reader, *args):
    try:
        return reader(*args)
    except FileNotFoundError as error:
        pytest.skip(str(error))


def _foscttm(x, y):
    """Fraction of samples closer than the true match (row i of x <-> row i of y)."""
    try:
        from scvi_contrastive.benchmark.metrics import foscttm
    except ImportError:
        distances = ((x[:, None] - y[None]) ** 2).sum(-1)
        true = np.diag(distances)
        closer = (distances < true[:, None]).mean(1) + (distances < true[None]).mean(0)
        return float(closer.mean() / 2)
    return foscttm(x, y)


@pytest.mark.slow
def test_cbmc_halves_rna_against_protein():
    from scvi_contrastive.data import read_cite_seq

    cite = _read(read_cite_seq, "cbmc_cite")
    order = np.random.default_rng(0).permutation(cite.n_obs)
    half_rna, half_prot = np.sort(order[: cite.n_obs // 2]), np.sort(order[cite.n_obs // 2 :])
    rna, prot = cite.mod["rna"][half_rna].copy(), cite.mod["prot"][half_prot].copy()
    rna.obs_names = [f"rna:{c}" for c in rna.obs_names]
    prot.obs_names = [f"prot:{c}" for c in prot.obs_names]
    labels = cite.obs["cell_type"].astype(str).to_numpy()
    mdata = md.MuData({"rna": rna, "prot": prot})
    names = np.concatenate([rna.obs_names, prot.obs_names])
    mdata.obs["cell_type"] = pd.Series(
        np.concatenate([labels[half_rna], labels[half_prot]]), index=names
    )
    # Anonymous genes and antibodies share no names: align in a learned space.
    BICLUM.setup_mudata(
        mdata,
        rna_layer="counts",
        protein_layer="counts",
        labels_key="cell_type",
        feature_space="separate",
        modalities={"rna_layer": "rna", "protein_layer": "prot"},
    )
    with pytest.warns(UserWarning, match="share no features"):
        model = BICLUM(mdata)
    model.train(max_epochs=30, **QUIET)
    predictions = model.transfer_labels(k=15)
    truth = mdata.obs.loc[predictions.index, "cell_type"].to_numpy()
    accuracy = np.mean(predictions["predicted"].to_numpy() == truth)
    majority = pd.Series(truth).value_counts(normalize=True).max()
    assert accuracy > 0.8
    assert accuracy > majority + 0.3


@pytest.mark.slow
def test_pbmc_multiome_with_hidden_pairs():
    from scvi_contrastive.data import gene_activity, read_pbmc_multiome

    multiome = _read(read_pbmc_multiome)
    rna = multiome.mod["rna"].copy()
    # Peaks within 10 kb of a gene count for it: every one of the 174 peaks is used.
    activity = gene_activity(
        multiome.mod["atac"], rna, layer="counts", upstream=10_000, downstream=10_000
    )
    shuffle = np.random.default_rng(0).permutation(rna.n_obs)
    activity = activity[shuffle].copy()
    rna.obs_names = [f"rna_{i}" for i in range(rna.n_obs)]
    activity.obs_names = [f"atac_{i}" for i in range(rna.n_obs)]
    mdata = md.MuData({"rna": rna, "atac": activity})
    BICLUM.setup_mudata(mdata, rna_layer="counts", modalities=RNA_ATAC)
    model = BICLUM(mdata)
    model.train(max_epochs=30, **QUIET)
    z_rna = model.get_latent_representation(modality="rna")[: rna.n_obs]
    z_atac = model.get_latent_representation(modality="atac")[rna.n_obs :]
    partner = np.argsort(shuffle)  # RNA cell i is ATAC row partner[i]
    # Joint PCA of the shared genes scores 0.25-0.28 here and GLUE 0.227.
    assert _foscttm(z_rna, z_atac[partner]) < 0.21


def test_anchor_keep_filters_the_initial_pairs():
    scvi.settings.seed = 0
    mdata = _structured()
    BICLUM.setup_mudata(mdata, rna_layer="counts", atac_layer="counts", modalities=RNA_ATAC)
    every = BICLUM(mdata, **SMALL, anchor_keep=1.0).initial_mnn_pairs_
    half = BICLUM(mdata, **SMALL, anchor_keep=0.5).initial_mnn_pairs_
    assert set(zip(*half, strict=True)) < set(zip(*every, strict=True))
    assert 0.4 * every.shape[1] <= half.shape[1] <= 0.7 * every.shape[1]
    # On four well-separated types the kept pairs join cells of one type at least as often.
    cell_type = mdata.obs["cell_type"].to_numpy()

    def same_type(pairs):
        return np.mean(cell_type[pairs[0]] == cell_type[pairs[1]])

    assert same_type(half) >= same_type(every)
    with pytest.raises(ValueError, match="`anchor_keep` must be in"):
        BICLUM(mdata, **SMALL, anchor_keep=0.0)


def _with_own_space(seed: int) -> md.MuData:
    """``_structured`` with thinned ATAC counts and an own space that holds the ATAC types."""
    mdata = _structured(seed=seed)
    atac = mdata.mod["atac"]
    rng = np.random.default_rng(seed)
    thinned = rng.binomial(atac.layers["counts"].toarray().astype(int), 0.3)
    atac.layers["counts"] = sparse.csr_matrix(thinned.astype(np.float32))
    codes = atac.obs["cell_type"].cat.codes.to_numpy()
    atac.obsm["X_own"] = np.eye(4)[codes] + 0.3 * rng.normal(size=(atac.n_obs, 4))
    BICLUM.setup_mudata(
        mdata, rna_layer="counts", atac_layer="counts", labels_key="cell_type", modalities=RNA_ATAC
    )
    return mdata


def _own_neighborhood_loss(model: BICLUM, own: np.ndarray) -> float:
    """The neighbourhood term over all ATAC cells of the trained embedding."""
    atac = model.adata.mod["atac"]
    z = model.get_latent_representation()[model.adata.obs_names.get_indexer(atac.obs_names)]
    return neighborhood_loss(
        torch.as_tensor(z), torch.as_tensor(own, dtype=torch.float32), 0.5, 0.1
    ).item()


def test_training_keeps_the_neighbourhoods_of_an_own_space():
    losses = {}
    for own_space in (None, {"atac": "X_own"}):
        scvi.settings.seed = 0
        mdata = _with_own_space(seed=0)
        model = BICLUM(mdata, **SMALL)
        model.train(max_epochs=30, batch_size=32, neighbors_obsm=own_space, **QUIET)
        losses[own_space is not None] = _own_neighborhood_loss(model, mdata["atac"].obsm["X_own"])
        term = model.history.get("neighborhood_atac_train")
        assert (term is not None) == (own_space is not None)
    assert float(term.iloc[-1, 0]) < float(term.iloc[0, 0])
    # Trained with the term, the ATAC cells' embedding keeps their own-space neighbours better.
    assert losses[True] < losses[False] - 0.03


def test_start_pairs_are_found_along_the_own_space_neighbourhoods():
    cell_type = {}
    for own_space in (None, {"atac": "X_own"}):
        scvi.settings.seed = 0
        mdata = _with_own_space(seed=0)
        model = BICLUM(mdata, **SMALL)
        constructed = model.initial_mnn_pairs_
        model.train(max_epochs=1, batch_size=32, neighbors_obsm=own_space, **QUIET)
        pairs = model.initial_mnn_pairs_
        if own_space is None:
            np.testing.assert_array_equal(pairs, constructed)
        else:
            np.testing.assert_array_equal(model.mnn_pairs_, pairs)
        labels = mdata.obs["cell_type"].to_numpy()
        cell_type[own_space is not None] = np.mean(labels[pairs[0]] == labels[pairs[1]])
    # The thinned ATAC counts place a cell less surely than its own space's neighbours do.
    assert cell_type[True] > cell_type[False] + 0.03


def test_neighbors_obsm_errors_name_the_entry():
    mdata = _with_own_space(seed=1)
    model = BICLUM(mdata, **SMALL)
    atac = mdata["atac"]
    atac.obsm["X_nan"] = np.where(np.eye(atac.n_obs, 4) > 0, np.nan, 1.0)
    atac.obsm["X_text"] = np.full((atac.n_obs, 2), "a")
    cases = {
        "X_missing": "not in mdata\\['atac'\\].obsm",
        "X_nan": "NaN or infinite",
        "X_text": "must be numeric",
    }
    for key, message in cases.items():
        with pytest.raises(ValueError, match=message):
            model.train(max_epochs=1, neighbors_obsm={"atac": key}, **QUIET)
    with pytest.raises(ValueError, match="modality names"):
        model.train(max_epochs=1, neighbors_obsm={"protein": "X_own"}, **QUIET)
