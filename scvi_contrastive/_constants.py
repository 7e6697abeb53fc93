"""Registry keys (scvi's and this package's) and the names of the modalities."""

from collections import namedtuple
from typing import NamedTuple

from scvi import REGISTRY_KEYS as SCVI_REGISTRY_KEYS


class _PackageKeys(NamedTuple):
    RNA_KEY: str = "X"
    PROTEIN_KEY: str = "proteins"
    ATAC_KEY: str = "atac"
    OBSERVED_KEY: str = "observed_modalities"
    MODALITY_KEY: str = "modality"
    #: BICLUM's per-cell flag (``(n, 1)``, 1 = member of a cross-modal positive pair) in each
    #: modality's minibatch; flagged rows of the two modalities pair up in order.
    PAIR_KEY: str = "mnn_pair"
    #: BICLUM's ``(n, k)`` representation of a modality's cells in their own features (e.g.
    #: the peaks' LSI), in its minibatch when ``train(neighbors_obsm=...)`` asks for it.
    NEIGHBOR_SPACE_KEY: str = "neighbor_space"


class _MODALITIES_NT(NamedTuple):
    RNA: str = "rna"
    PROTEIN: str = "protein"
    ATAC: str = "atac"


#: scvi's registry keys, re-exported unchanged, and the keys this package adds, in one
#: namespace (``REGISTRY_KEYS.BATCH_KEY`` is scvi's, ``REGISTRY_KEYS.OBSERVED_KEY`` ours).
REGISTRY_KEYS = namedtuple("RegistryKeys", SCVI_REGISTRY_KEYS._fields + _PackageKeys._fields)(
    *SCVI_REGISTRY_KEYS, *_PackageKeys()
)
MODALITIES = _MODALITIES_NT()

#: Prefix of every column/key this package writes into a user's MuData during setup.
SETUP_PREFIX = "_scvi_contrastive"

#: ``setup_mudata`` argument naming each modality's layer (both models).
LAYER_ARGS = {
    MODALITIES.RNA: "rna_layer",
    MODALITIES.PROTEIN: "protein_layer",
    MODALITIES.ATAC: "atac_layer",
}
#: Registry key of each modality's counts (both models).
COUNT_KEYS = {
    MODALITIES.RNA: REGISTRY_KEYS.RNA_KEY,
    MODALITIES.PROTEIN: REGISTRY_KEYS.PROTEIN_KEY,
    MODALITIES.ATAC: REGISTRY_KEYS.ATAC_KEY,
}
