"""Rows of docs/reliability.md on the data given to setup, getters and ``load`` (both models).

Bad count values and covariates, missing layers, modalities and columns, empty data, repeated
names, BICLUM's AnnData form, backed data (BICLUM: counts in a layer refused; SCMDCF reads
layers), and query data that do not match the reference.
"""

import anndata as ad
import mudata as md
import numpy as np
import pytest
from reliability_cases import CASES, GENES, paired_mdata, unpaired_mdata
from scipy import sparse

from scvi_contrastive.model import BICLUM, SCMDCF

SCMDCF_CASE = CASES["SCMDCF"]


# ---------------------------------------------------------------------------- bad inputs


def _corrupt_counts(value):
    def corrupt(mdata):
        mdata["rna"].layers["counts"].data[3] = value

    return corrupt


def _set_obs(column, value):
    def corrupt(mdata):
        mdata.obs[column] = mdata.obs[column].astype(object)
        mdata.obs.iloc[2, mdata.obs.columns.get_loc(column)] = value

    return corrupt


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_corrupt_counts(0.5), "layer 'counts' of modality 'rna' contains non-integer"),
        (_corrupt_counts(-1.0), "layer 'counts' of modality 'rna' contains negative"),
        (_corrupt_counts(np.nan), "layer 'counts' of modality 'rna' contains NaN or infinite"),
        (_corrupt_counts(np.inf), "layer 'counts' of modality 'rna' contains NaN or infinite"),
        (_set_obs("batch", np.nan), r"Column 'batch' \(`batch_key`\).*no value for 1 cells"),
    ],
    ids=["fraction", "negative", "nan", "inf", "nan-batch"],
)
def test_bad_values_name_the_input(case, corrupt, message):
    mdata = case.make("csr")
    corrupt(mdata)
    with pytest.raises(ValueError, match=message):
        case.setup(mdata, batch_key="batch")


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("argument", ["continuous_covariate_keys", "size_factor_key"])
def test_scmdcf_non_finite_numerical_covariates(argument, value):
    mdata = paired_mdata()
    mdata.obs["covariate"] = np.linspace(0.5, 1.5, mdata.n_obs)
    mdata.obs.loc["cell7", "covariate"] = value
    column = ["covariate"] if argument == "continuous_covariate_keys" else "covariate"
    with pytest.raises(ValueError, match=f"`{argument}` contains NaN or infinite"):
        CASES["SCMDCF"].setup(mdata, **{argument: column})


def test_scmdcf_size_factors_must_be_positive():
    mdata = paired_mdata()
    mdata.obs["size_factor"] = np.linspace(0.0, 1.0, mdata.n_obs)
    with pytest.raises(ValueError, match="`size_factor_key` holds zero or negative"):
        CASES["SCMDCF"].setup(mdata, size_factor_key="size_factor")


def test_scmdcf_missing_categorical_covariate():
    mdata = paired_mdata()
    mdata.obs["donor"] = np.resize(["x", None], mdata.n_obs)
    with pytest.raises(ValueError, match=r"'donor' \(`categorical_covariate_keys`\)"):
        CASES["SCMDCF"].setup(mdata, categorical_covariate_keys=["donor"])


def test_missing_layer_modality_and_column(case):
    with pytest.raises(
        ValueError, match=r"Layer 'raw' \(`rna_layer`\) not found in modality 'rna'"
    ):
        case.cls.setup_mudata(case.make(), rna_layer="raw", modalities=case.modalities)
    modalities = {**case.modalities, "rna_layer": "gex"}
    with pytest.raises(ValueError, match=r"Modality 'gex' not found.*modalities\['rna_layer'\]"):
        case.cls.setup_mudata(case.make(), modalities=modalities)
    with pytest.raises(ValueError, match=r"Column 'donor' not found in `mdata.obs`.*batch_key"):
        case.setup(case.make(), batch_key="donor")


def test_modalities_with_unknown_keys(case):
    modalities = {**case.modalities, "rna_layr": "rna"}
    with pytest.raises(ValueError, match=r"Unknown key\(s\) \['rna_layr'\] in `modalities`"):
        case.cls.setup_mudata(case.make(), modalities=modalities)


def test_modalities_are_required(case):
    with pytest.raises(ValueError, match=r"`modalities` is required, e\.g\. \{'rna_layer': 'rna'"):
        case.cls.setup_mudata(case.make(), **case.layers)


def test_no_cells_after_filtering(case):
    mdata = case.make()
    empty = mdata[np.zeros(mdata.n_obs, dtype=bool)].copy()
    with pytest.raises(ValueError, match=r"no cells|0 cells"):
        case.setup(empty)


def test_no_features_after_filtering(case):
    mdata = case.make()
    mdata.mod["rna"] = mdata["rna"][:, []].copy()
    mdata.update()
    with pytest.raises(
        ValueError, match=r"No features in modality 'rna'|'rna' has \d+ cells and 0"
    ):
        case.setup(mdata)


def test_a_partially_measured_modality_without_cells():
    mdata = paired_mdata()
    mdata.mod["prot"] = mdata["prot"][:0].copy()
    mdata.update()
    with pytest.raises(ValueError, match="Modality 'prot' has 0 cells"):
        CASES["SCMDCF"].setup(mdata)


def test_cells_without_counts(case):
    mdata = case.make()
    for name in mdata.mod:
        mdata[name].layers["counts"][4] = 0  # row 4 of each modality: one cell, or two
    message = r"cells have no counts in any registered modality \(e.g. \['(cell|r)4'"
    if case.cls is SCMDCF:  # paired cells empty in every modality: droplets to filter out
        with pytest.raises(ValueError, match=message):
            case.setup(mdata)
        return
    # BICLUM embeds them from their all-zero input (ATAC gene activity often has a few).
    with pytest.warns(UserWarning, match=message):
        case.setup(mdata)
    latent = case.fit(case.cls(mdata, **case.init), max_epochs=1).get_latent_representation()
    assert np.isfinite(latent).all()


def test_scmdcf_refuses_a_modality_without_counts():
    mdata = paired_mdata()
    mdata["prot"].layers["counts"] = sparse.csr_matrix(mdata["prot"].shape, dtype=np.float32)
    with pytest.raises(ValueError, match=r"Modality 'prot' has no counts in any cell"):
        SCMDCF_CASE.setup(mdata)


def test_a_modality_without_counts_is_refused(case):
    mdata = case.make()
    other = next(name for name in mdata.mod if name != "rna")
    mdata[other].layers["counts"] = sparse.csr_matrix(mdata[other].shape, dtype=np.float32)
    with pytest.raises(ValueError, match=rf"Modality '{other}' has no counts in any cell"):
        case.setup(mdata)


def test_float16_counts_name_the_layer_and_the_fix(case):
    mdata = case.make("dense")
    mdata["rna"].layers["counts"] = mdata["rna"].layers["counts"].astype(np.float16)
    with pytest.raises(TypeError, match=r"'counts' of modality 'rna' has dtype float16.*float32"):
        case.setup(mdata)


def test_repeated_obs_names(case):
    mdata = case.make()
    names = list(mdata["rna"].obs_names)
    names[1] = names[0]
    mdata["rna"].obs_names = names
    with pytest.raises(ValueError, match=r"obs_names of .* not unique \(e.g. \['(cell|r)0'\]\)"):
        case.setup(mdata)


def _stacked():
    mdata = unpaired_mdata()
    return ad.concat(
        {"rna": mdata["rna"], "atac": mdata["atac"]}, label="modality", index_unique="-"
    )


def _repeat_first_name(adata):
    adata.obs_names = [adata.obs_names[0], *adata.obs_names[1:-1], adata.obs_names[0]]


def _drop_modality(adata):
    adata.obs["modality"] = adata.obs["modality"].astype(object)
    adata.obs.iloc[3, adata.obs.columns.get_loc("modality")] = None


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda a: a.layers["counts"].data.__setitem__(0, 0.5), "layer 'counts' of the AnnData"),
        (_repeat_first_name, r"`adata.obs_names` are not unique"),
        (_drop_modality, r"Column 'modality' \(`modality_key`\).*no value for 1 cells"),
    ],
    ids=["fraction", "repeated-names", "no-modality"],
)
def test_biclum_anndata_form_checks(corrupt, message):
    adata = _stacked()
    corrupt(adata)
    with pytest.raises(ValueError, match=message):
        BICLUM.setup_anndata(adata, modality_key="modality", layer="counts")


def test_biclum_anndata_form_warns_about_rows_without_counts():
    adata = _stacked()
    adata.layers["counts"][5] = 0
    with pytest.warns(UserWarning, match=r"1 cells have no counts .*\['r5-rna'\]"):
        BICLUM.setup_anndata(adata, modality_key="modality", layer="counts")


# ---------------------------------------------------------------------------- backed data, queries


@pytest.mark.parametrize("case", ["BICLUM"], indirect=True)
def test_backed_data_are_refused_with_the_fix(case, trained, tmp_path):
    path = tmp_path / "data.h5mu"
    case.make().write(path)
    backed = md.read_h5mu(path, backed=True)
    with pytest.raises(ValueError, match=r"`mdata` is backed.*mdata.filename = None"):
        case.setup(backed)
    # A backed MuData given to a getter of a trained model is refused as well.
    with pytest.raises(ValueError, match="modality 'rna' is backed"):
        trained.get_latent_representation(md.read_h5mu(path, backed=True))
    backed.filename = None  # the documented fix
    case.setup(backed)


@pytest.mark.parametrize("case", ["SCMDCF"], indirect=True)
def test_scmdcf_reads_backed_data(case, trained, tmp_path):
    path = tmp_path / "data.h5mu"
    mdata = case.make()
    mdata.write(path)
    expected = trained.get_latent_representation(mdata)
    # Getters and setup take backed data (here the case's "counts" layers, which anndata's
    # backed mode holds in memory; tests/model/test_backed.py trains from .X on disk).
    backed = md.read_h5mu(path, backed=True)
    latent = trained.get_latent_representation(backed)
    np.testing.assert_allclose(latent, expected, rtol=0, atol=1e-6)
    case.setup(backed, batch_key="batch")
    assert backed.isbacked and all(modality.isbacked for modality in backed.mod.values())


def test_query_with_reordered_or_missing_genes(case, trained):
    reordered = case.make()
    reordered.mod["rna"] = reordered["rna"][:, GENES[::-1]].copy()
    reordered.update()
    with pytest.raises(ValueError, match=r"different order.*'g19' at position 0 where 'g0'"):
        trained.get_latent_representation(reordered)
    missing = case.make()
    missing.mod["rna"] = missing["rna"][:, GENES[2:]].copy()
    missing.update()
    with pytest.raises(ValueError, match=r"2 registered ones missing: \['g0', 'g1'\]"):
        trained.get_latent_representation(missing)


def test_unknown_batch_category_points_to_query_mapping(case, trained):
    query = case.make()
    query.obs["batch"] = np.resize(["a", "zz"], query.n_obs)
    name = case.cls.__name__
    with pytest.raises(ValueError, match=rf"Batch category 'zz'.*{name}\.load_query_data"):
        trained.get_latent_representation(query)
