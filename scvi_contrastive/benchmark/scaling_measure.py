"""One measurement of the scaling benchmark, in the process that runs it.

:func:`measure` builds (or, from disk, opens) one synthetic data set, sets the model up with
its defaults, trains it for at most ``max_steps`` steps of one epoch and a few of a second, and
returns the row :mod:`.scaling` collects from each of its subprocesses.
"""

from __future__ import annotations

import importlib
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

from mudata import MuData

from .process_memory import memory_mb, start_peak_window
from .result import _rss_mb, torch_device_name
from .step_timer import StepTimer
from .synthetic import (
    N_CELL_TYPES,
    synthetic_paired,
    synthetic_unpaired,
    write_synthetic_paired,
    write_synthetic_unpaired,
)

#: Most minibatch steps of the first epoch that are run; larger epochs are extrapolated.
MAX_STEPS = 400


def _setup_scmdcf(mdata: MuData):
    from ..model import SCMDCF

    SCMDCF.setup_mudata(mdata, modalities={"rna_layer": "rna", "protein_layer": "prot"})
    # k-means with a known k: Leiden's exact neighbour graph is quadratic in the cells.
    model = SCMDCF(mdata, n_clusters=N_CELL_TYPES)
    return model, {"n_epochs_pretrain": 1, "plan_kwargs": {"cluster_init": "kmeans"}}


def _setup_biclum(mdata: MuData):
    from ..model import BICLUM

    BICLUM.setup_mudata(mdata, modalities={"rna_layer": "rna", "atac_layer": "atac"})
    # Refresh the pairs when the second epoch starts, so that the boundary cost holds one.
    return BICLUM(mdata), {"mnn_refresh_every": 1, "mnn_refresh_start": 1}


#: Per model: its synthetic data, and its setup returning the model and ``train()`` arguments.
_DATA: dict[str, Callable[..., MuData]] = {
    "SCMDCF": synthetic_paired,
    "BICLUM": synthetic_unpaired,
}
_SETUP: dict[str, Callable] = {"SCMDCF": _setup_scmdcf, "BICLUM": _setup_biclum}
#: Per model: writes its synthetic data set to an ``.h5mu``, for training from disk.
_WRITERS: dict[str, Callable[..., Path]] = {
    "SCMDCF": write_synthetic_paired,
    "BICLUM": write_synthetic_unpaired,
}


def _backed_data(model_name: str, n_cells: int, seed: int, data_dir: str | os.PathLike) -> MuData:
    """The model's synthetic data set opened from its ``.h5mu`` in ``data_dir`` (written once)."""
    import mudata

    path = Path(data_dir) / f"synthetic_{model_name}_{n_cells}_seed{seed}.h5mu"
    if not path.exists():
        partial = path.with_suffix(".partial.h5mu")
        _WRITERS[model_name](partial, n_cells, seed=seed)
        partial.rename(path)
    return mudata.read_h5mu(path, backed=True)


def measure(
    model_name: str,
    n_cells: int,
    max_steps: int = MAX_STEPS,
    accelerator: str = "auto",
    threads: int | None = 1,
    seed: int = 0,
    progress: Callable[[dict], None] | None = None,
    setup_only: bool = False,
    backed: bool = False,
    data_dir: str | os.PathLike | None = None,
) -> dict:
    """Time and memory of one model on one synthetic data set, in this process.

    Parameters
    ----------
    model_name
        ``"SCMDCF"`` (paired RNA + protein) or ``"BICLUM"`` (unpaired RNA + gene activity).
    n_cells
        Cells of the data set (BICLUM: both modalities together).
    max_steps
        Most steps of the first epoch that are run; a longer epoch is extrapolated.
    accelerator
        Lightning accelerator (``"auto"``: a GPU when present).
    threads
        Torch CPU threads; ``None`` keeps torch's default.
    seed
        Seed of the data and of scvi.
    progress
        Called with the row so far after each phase (data, setup, training), so that a run
        stopped from outside still tells how far it got.
    setup_only
        Stop after setup: no training, and the peak memory is that of setup.
    backed
        Train from disk: the data set is written to an ``.h5mu`` in ``data_dir`` (unless one
        of the same size and seed is there) and opened with ``read_h5mu(backed=True)``.
    data_dir
        Folder of the ``.h5mu`` files of ``backed`` runs (needed with ``backed``).

    Returns
    -------
    One row of the scaling table (see :func:`run_scaling`).
    """
    import scvi
    import torch

    if backed and data_dir is None:
        raise ValueError("`backed=True` needs `data_dir`, the folder of the .h5mu files.")
    if threads is not None:
        torch.set_num_threads(threads)
    scvi.settings.seed = seed
    cuda = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    report = progress or (lambda row: None)
    # The libraries' memory, before any data: the models' imports are loaded first.
    importlib.import_module("scvi_contrastive.model")
    row = {"model": model_name, "n_cells": n_cells, "backed": backed, "status": "building data"}
    row.update(baseline_rss_mb=_rss_mb(), load_start=os.getloadavg()[0])
    report(row)
    start = time.perf_counter()
    if backed:
        mdata = _backed_data(model_name, n_cells, seed, data_dir)
    else:
        mdata = _DATA[model_name](n_cells, seed=seed)
    row.update(data_s=time.perf_counter() - start, data_peak_rss_mb=memory_mb("VmHWM"))
    windowed = start_peak_window()
    row.update(data_rss_mb=_rss_mb(), status="setting up")
    report(row)
    start = time.perf_counter()
    model, train_kwargs = _SETUP[model_name](mdata)
    row.update(setup_s=time.perf_counter() - start, setup_peak_rss_mb=_peak_mb(windowed))
    row.update(status="training")
    report(row)
    # Training's own peak from here on (what setup left in memory included).
    windowed = windowed and start_peak_window(release=False)
    if setup_only:
        row.update(status="ok", device=torch_device_name(model.device))
    else:
        row.update(**_train_timed(model, train_kwargs, max_steps, accelerator), status="latent")
        report(row)
        start = time.perf_counter()
        model.get_latent_representation()
        row.update(status="ok", latent_s=time.perf_counter() - start)
    end_peak = _peak_mb(windowed)
    row.update(
        load_end=os.getloadavg()[0],
        peak_rss_mb=max(row["setup_peak_rss_mb"], end_peak),
        train_peak_rss_mb=float("nan") if setup_only else end_peak,
        gpu_peak_mb=torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan"),
    )
    report(row)
    return row


def _peak_mb(windowed: bool) -> float:
    """Peak resident memory of the current window, or of the process where none is kept."""
    if windowed:
        return memory_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _train_timed(model, train_kwargs: dict, max_steps: int, accelerator: str) -> dict:
    """Train one epoch (at most ``max_steps`` steps) and a few steps more; return the timings."""
    timer = StepTimer()
    start = time.perf_counter()
    model.train(
        max_epochs=2,
        accelerator=accelerator,
        devices=1,
        limit_train_batches=max_steps,
        callbacks=[timer],
        enable_progress_bar=False,
        **train_kwargs,
    )
    steps_per_epoch = len(model.trainer.train_dataloader)
    return {
        "device": torch_device_name(model.device),
        "train_s": time.perf_counter() - start,
        "steps_per_epoch": steps_per_epoch,
        "steps_timed": len(timer.step_ends[0]),
        **timer.first_epoch_costs(steps_per_epoch),
        "boundary_s": timer.boundary_s(),
    }
