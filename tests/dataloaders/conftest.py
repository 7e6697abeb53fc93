"""A small MuData registered by BICLUM, for the loaders of unpaired and partially paired cells."""

from dataclasses import dataclass

import anndata as ad
import mudata as md
import numpy as np
import pytest
import torch
from scipy import sparse
from scvi.data import AnnDataManager

from scvi_contrastive._constants import COUNT_KEYS
from scvi_contrastive.model import BICLUM

#: Cells ``c0``-``c39`` have RNA and ``c30``-``c59`` ATAC: ten cells are measured in both.
CELLS = {"rna": range(0, 40), "atac": range(30, 60)}
#: Features per modality, different so that each modality's minibatch shows its own width.
N_FEATURES = {"rna": 20, "atac": 12}


def _modality(name: str, rng: np.random.Generator) -> ad.AnnData:
    cells = CELLS[name]
    counts = rng.poisson(2.0, (len(cells), N_FEATURES[name])).astype(np.float32)
    counts[:, 0] = np.asarray(cells) + 1  # the first feature names the cell: cell k holds k + 1
    adata = ad.AnnData(sparse.csr_matrix(counts))
    adata.obs_names = [f"c{k}" for k in cells]
    adata.var_names = [f"{name}{j}" for j in range(N_FEATURES[name])]
    adata.layers["counts"] = adata.X.copy()
    return adata


@dataclass
class Registered:
    """The registered MuData, its manager, and per modality its rows and registry key."""

    mdata: md.MuData
    manager: AnnDataManager
    rows: dict[str, np.ndarray]
    count_keys: dict[str, str]

    def cells(self, counts: torch.Tensor) -> np.ndarray:
        """Rows of ``mdata.obs`` whose counts a minibatch holds (read from the first feature)."""
        names = [f"c{k}" for k in counts[:, 0].numpy().astype(int) - 1]
        rows = self.mdata.obs_names.get_indexer(names)
        assert (rows >= 0).all(), names
        return rows

    def counts(self, name: str, rows: np.ndarray) -> np.ndarray:
        """The counts that modality ``name`` holds for the cells at ``rows`` of ``mdata.obs``."""
        modality = self.mdata.mod[name]
        positions = modality.obs_names.get_indexer(self.mdata.obs_names[rows])
        assert (positions >= 0).all()
        return modality.layers["counts"][positions].toarray()


@pytest.fixture
def registered() -> Registered:
    rng = np.random.default_rng(0)
    mdata = md.MuData({name: _modality(name, rng) for name in CELLS})
    mdata.obs["batch"] = np.resize(["a", "b"], mdata.n_obs)
    BICLUM.setup_mudata(
        mdata,
        modalities={"rna_layer": "rna", "atac_layer": "atac"},
        rna_layer="counts",
        atac_layer="counts",
        batch_key="batch",
        partially_paired=True,
        feature_space="separate",
    )
    rows = {name: np.flatnonzero(mdata.obs_names.isin(mdata[name].obs_names)) for name in CELLS}
    return Registered(
        mdata,
        BICLUM._get_most_recent_anndata_manager(mdata, required=True),
        rows,
        {name: COUNT_KEYS[name] for name in CELLS},
    )
