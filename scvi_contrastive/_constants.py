"""Registry keys and names that this package adds on top of :data:`scvi.REGISTRY_KEYS`."""

from typing import NamedTuple


class _REGISTRY_KEYS_NT(NamedTuple):
    RNA_KEY: str = "X"
    PROTEIN_KEY: str = "proteins"
    ATAC_KEY: str = "atac"
    OBSERVED_KEY: str = "observed_modalities"
    MODALITY_KEY: str = "modality"


class _MODALITIES_NT(NamedTuple):
    RNA: str = "rna"
    PROTEIN: str = "protein"
    ATAC: str = "atac"


REGISTRY_KEYS = _REGISTRY_KEYS_NT()
MODALITIES = _MODALITIES_NT()

#: Prefix of every column/key this package writes into a user's MuData during setup.
SETUP_PREFIX = "_scvi_contrastive"
