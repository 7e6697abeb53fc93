"""Registration of SCMDCF's data: paired (or partially paired) modalities of one MuData."""

from __future__ import annotations

from mudata import MuData
from scvi.data import fields
from scvi.utils import setup_anndata_dsp

from .._constants import LAYER_ARGS, REGISTRY_KEYS
from ..data.validation import check_paired_cells
from ._setup import (
    SetupModality,
    check_categorical_columns,
    check_cells,
    check_is_mudata,
    register_mudata,
    resolve_modalities,
)

#: ``setup_mudata`` arguments that ``modalities`` may map to a modality.
_MODALITY_ARGS = [
    *LAYER_ARGS.values(),
    "batch_key",
    "size_factor_key",
    "categorical_covariate_keys",
    "continuous_covariate_keys",
]
_MODALITIES_EXAMPLE = "{'rna_layer': 'rna', 'protein_layer': 'prot'}"


class FusionSetupMixin:
    """``setup_mudata`` of :class:`~scvi_contrastive.model.SCMDCF` (AnnData is refused)."""

    @classmethod
    def setup_anndata(cls, adata, *args, **kwargs):
        """Not supported: paired modalities are registered from a MuData.

        Use :meth:`setup_mudata`, e.g. with ``mudata.MuData({"rna": rna, "prot": prot})``.
        """
        raise TypeError(
            "SCMDCF registers paired modalities from a MuData; use `SCMDCF.setup_mudata(mdata, "
            "..., modalities={'rna_layer': 'rna', 'protein_layer': 'prot'})`."
        )

    @classmethod
    @setup_anndata_dsp.dedent
    def setup_mudata(
        cls,
        mdata: MuData,
        rna_layer: str | None = None,
        atac_layer: str | None = None,
        protein_layer: str | None = None,
        batch_key: str | None = None,
        size_factor_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        modalities: dict[str, str] | None = None,
        **kwargs,
    ):
        """%(summary_mdata)s.

        Register any two of RNA, protein and ATAC counts (or all three) of the same cells.
        Modalities may hold different subsets of ``mdata.obs`` (cells measured in only some
        modalities).

        Adds to ``mdata``: ``obsm["_scvi_contrastive_observed"]`` (which modalities measured
        each cell) and, for each modality whose cells differ from ``mdata.obs``,
        ``obsm["_scvi_contrastive_<modality>"]`` (its counts aligned to ``mdata.obs``, zero rows
        for cells it lacks) and ``uns["_scvi_contrastive_<modality>_var_names"]``. As in every
        scvi-tools model, ``uns["_scvi_uuid"]``/``uns["_scvi_manager_uuid"]`` are set,
        ``obs["_scvi_batch"]`` is added (to the ``.obs`` that ``modalities`` maps ``batch_key``
        to; all zeros without a ``batch_key``), covariates are gathered in
        ``obsm["_scvi_extra_categorical_covs"]``/``obsm["_scvi_extra_continuous_covs"]``, and a
        dense count matrix that is not C-contiguous is made so (values unchanged). Counts,
        layers, ``var`` and existing ``obs`` columns are never changed, by setup, training or
        the getters (see ``docs/reliability.md``).

        Backed data (``mudata.read_h5mu(path, backed=True)``) are read from their file: setup
        checks the counts and the model fits its encoders' input transforms reading at most
        10,000 rows at a time, and training and the getters read each minibatch's cells from
        disk, in the order the sampler drew them, so the model and its latent are those of the
        same data in memory. Only ``.X`` stays on disk in anndata's backed mode: a layer (e.g.
        ``rna_layer="counts"``) is accepted, but anndata read it into memory whole when it
        opened the file, so keep atlas-scale counts in ``.X`` (``rna_layer=None``). A backed
        ``.X`` must be dense or CSR (on disk, each minibatch of a CSC matrix reads the whole
        file), and a modality whose cells differ from ``mdata.obs`` (or their order) must be in
        memory (its counts are copied, aligned to ``mdata.obs``); both are refused with the fix.

        Parameters
        ----------
        %(param_mdata)s
        rna_layer
            RNA layer of raw counts; ``None`` uses ``.X`` of the RNA modality.
        atac_layer
            ATAC layer of raw counts; ``None`` uses ``.X`` of the ATAC modality.
        protein_layer
            Protein layer of raw counts; ``None`` uses ``.X`` of the protein modality.
        %(param_batch_key)s
        size_factor_key
            Column of ``.obs`` with RNA size factors, used instead of the observed library size.
        %(param_cat_cov_keys)s
        %(param_cont_cov_keys)s
        %(param_modalities)s

        Examples
        --------
        >>> SCMDCF.setup_mudata(
        ...     mdata, rna_layer="counts", protein_layer="counts",
        ...     modalities={"rna_layer": "rna", "protein_layer": "prot"},
        ... )
        """
        setup_method_args = cls._get_setup_method_args(**locals())
        check_is_mudata(mdata, "{'rna': rna, 'prot': prot}")
        modality_of, registered = resolve_modalities(
            cls, mdata, modalities, setup_method_args, _MODALITY_ARGS, _MODALITIES_EXAMPLE
        )
        _validate_mudata(mdata, registered)
        check_categorical_columns(
            mdata,
            modality_of,
            {
                "batch_key": [batch_key] if batch_key is not None else [],
                "categorical_covariate_keys": list(categorical_covariate_keys or []),
            },
        )
        register_mudata(
            cls,
            mdata,
            registered,
            [
                fields.MuDataCategoricalObsField(
                    REGISTRY_KEYS.BATCH_KEY, batch_key, mod_key=modality_of.batch_key
                ),
                fields.MuDataNumericalObsField(
                    REGISTRY_KEYS.SIZE_FACTOR_KEY,
                    size_factor_key,
                    mod_key=modality_of.size_factor_key,
                    required=False,
                ),
                fields.MuDataCategoricalJointObsField(
                    REGISTRY_KEYS.CAT_COVS_KEY,
                    categorical_covariate_keys,
                    mod_key=modality_of.categorical_covariate_keys,
                ),
                fields.MuDataNumericalJointObsField(
                    REGISTRY_KEYS.CONT_COVS_KEY,
                    continuous_covariate_keys,
                    mod_key=modality_of.continuous_covariate_keys,
                ),
            ],
            setup_method_args,
            allow_backed=True,
            **kwargs,
        )


def _validate_mudata(mdata: MuData, registered: dict[str, SetupModality]) -> None:
    if len(registered) < 2:
        raise ValueError(
            f"SCMDCF integrates at least two modalities; name them in `modalities`, e.g. "
            f"{_MODALITIES_EXAMPLE}."
        )
    names = [modality.name for modality in registered.values()]
    check_cells(mdata, names)
    check_paired_cells({name: mdata.mod[name].obs_names for name in names})
