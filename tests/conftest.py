import os
from pathlib import Path

import numpy as np
import pytest
import scvi
import torch

from scvi_contrastive.data.readers import DATA_ENV_VAR

# The real data sets live beside the repository (../shared/data), never inside it.
os.environ.setdefault(
    DATA_ENV_VAR, str(Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


# Parallel test workers share the cores; one thread each avoids oversubscription, which slows
# small torch models down many times over.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    scvi.settings.seed = 0


@pytest.fixture
def program_data():
    """Builder of ``(log counts, embedding, labels)`` for cells of four expression programs."""

    def build(n_cells: int, n_features: int = 30, seed: int = 0):
        rng = np.random.default_rng(seed)
        labels = rng.choice(4, n_cells, p=[0.1, 0.5, 0.15, 0.25])
        programs = rng.gamma(1.0, 1.0, size=(4, n_features))
        normalized = np.log1p(rng.poisson(programs[labels] * 3)).astype(np.float32)
        embedding = programs[labels] + 0.05 * rng.normal(size=(n_cells, n_features))
        return normalized, embedding, labels

    return build


@pytest.fixture
def row_reads(monkeypatch):
    """``watch(*classes)``: record how many rows each read of a backed count matrix asks for.

    Patches ``__getitem__`` of the given classes (``h5py.Dataset``, anndata's backed sparse
    datasets) for the test; reads of their 1-d arrays (a CSR dataset's ``data``, ``indptr``)
    are not counted. Returns the list the row counts are appended to.
    """
    reads = []

    def watch(*classes):
        for cls in classes:
            original = cls.__getitem__

            def getitem(self, index, original=original):
                if len(self.shape) == 2:
                    rows = index[0] if isinstance(index, tuple) else index
                    rows = (
                        range(self.shape[0])[rows] if isinstance(rows, slice) else np.ravel(rows)
                    )
                    reads.append(len(rows))
                return original(self, index)

            monkeypatch.setattr(cls, "__getitem__", getitem)
        return reads

    return watch
