"""SCMDCF's fixed encoder inputs (PCA / LSI, per-batch centring) fitted on registered cells."""

from __future__ import annotations

import numpy as np
import torch
from scvi.data import AnnDataManager

from .._constants import COUNT_KEYS, REGISTRY_KEYS
from ..data.input_transform import MAX_FIT_CELLS, batch_feature_means, fit_input_transform
from ..module.fusion import ContrastiveFusionModule
from ..tools.sketch import sketch_rows


def _measured_and_batches(adata_manager: AnnDataManager) -> tuple[np.ndarray, np.ndarray]:
    """Which modalities measured each cell (cells x modalities) and each cell's batch code."""
    observed = np.asarray(
        adata_manager.get_from_registry(REGISTRY_KEYS.OBSERVED_KEY), dtype=np.float32
    )
    batches = np.asarray(adata_manager.get_from_registry(REGISTRY_KEYS.BATCH_KEY)).ravel()
    return observed > 0, batches


def fit_encoder_transforms(
    adata_manager: AnnDataManager, module: ContrastiveFusionModule, n_batch: int, seed: int
) -> None:
    """Fix each encoder's input transform from the cells measured in its modality."""
    measured, batches = _measured_and_batches(adata_manager)
    counts = {m: adata_manager.get_from_registry(COUNT_KEYS[m]) for m in module.modalities}
    _fit_transforms(counts, measured, batches, module, n_batch, seed)


def registered_feature_counts(registry: dict) -> dict[str, int]:
    """Features of each modality in scvi's registry (a datamodule's), by modality."""
    fields = registry["field_registries"]
    return {
        m: int(fields[key]["state_registry"]["n_vars"])
        for m, key in COUNT_KEYS.items()
        if key in fields
    }


def fit_encoder_transforms_from_datamodule(
    datamodule, module: ContrastiveFusionModule, n_batch: int, seed: int
) -> None:
    """Fix the input transforms from a random subset of a datamodule's training cells.

    ``datamodule.read_cells(indices)`` gives each modality's counts and the batch codes of
    the cells; :data:`~scvi_contrastive.data.input_transform.MAX_FIT_CELLS` of them at most
    are read, as many as :func:`fit_encoder_transforms` fits on in memory.
    """
    rows = sketch_rows(datamodule.train_idx, MAX_FIT_CELLS, seed)
    cells = datamodule.read_cells(rows)
    counts = {m: cells[COUNT_KEYS[m]] for m in module.modalities}
    measured = np.ones((rows.size, len(module.modalities)), dtype=bool)
    _fit_transforms(counts, measured, cells[REGISTRY_KEYS.BATCH_KEY], module, n_batch, seed)


def _fit_transforms(
    counts: dict, measured: np.ndarray, batches: np.ndarray, module, n_batch: int, seed: int
) -> None:
    for i, m in enumerate(module.modalities):
        statistics = fit_input_transform(
            counts[m],
            np.flatnonzero(measured[:, i]),
            kind=module.encoders[m].transform.kind,
            n_components=module.n_input_components,
            seed=seed,
            batches=batches,
            n_batch=n_batch,
        )
        module.encoders[m].transform.set_statistics(statistics)


def centre_new_batches(
    adata_manager: AnnDataManager, module: ContrastiveFusionModule, n_reference_batches: int
) -> None:
    """Centre a query's new batches on their own feature means, as the reference's are.

    Batches with codes below ``n_reference_batches`` keep the reference's centres; ATAC's
    TF-IDF input has no per-batch centring.
    """
    measured, batches = _measured_and_batches(adata_manager)
    for i, m in enumerate(module.modalities):
        transform = module.encoders[m].transform
        if transform.kind == "tfidf":
            continue
        matrix = adata_manager.get_from_registry(COUNT_KEYS[m])
        shift = transform.batch_shift.clone().cpu()
        for b in np.unique(batches[measured[:, i]]):
            if b < n_reference_batches:
                continue
            rows = np.flatnonzero((batches == b) & measured[:, i])
            means = batch_feature_means(
                matrix,
                rows,
                transform.kind,
                transform.target_sum,
                feature_weight=transform.feature_weight.cpu().numpy(),
            )
            shift[:, int(b)] = torch.from_numpy(means) - transform.feature_mean.cpu()
        transform.set_statistics({"batch_shift": shift})
