"""Peak memory of a model trained from a backed ``.h5mu`` of 10^5 cells stays below bounds.

The scaling benchmark's from-disk run (``python -m scvi_contrastive.benchmark.scaling
--backed``, :func:`~scvi_contrastive.benchmark.scaling.run_scaling`) is run on :data:`N_CELLS`
synthetic cells in a subprocess of its own, so that the test's own allocations do not count: it
writes the data to an ``.h5mu``, opens it with ``mudata.read_h5mu(backed=True)`` and restarts
its peak count (Linux ``VmHWM``, through :mod:`scvi_contrastive.benchmark.process_memory`),
then runs ``setup_mudata`` and the constructor, restarts the count, trains and embeds every
cell with ``get_latent_representation``.

- SCMDCF (2,000 genes at ~1,000 UMIs per cell + 30 proteins): setup is the input-transform
  fit; one full training epoch (352 steps) and a few steps of a second (the modality-weight
  refresh before the first, the DEC initialisation before the second).
- BICLUM (half RNA, half gene activity over the same 2,000 genes): setup reads each modality
  in :data:`~scvi_contrastive.tools.chunks.CHUNK_ROWS` chunks (three of its 50,000 cells);
  :data:`BICLUM_STEPS` steps of the first epoch, the anchor refresh, a few steps of the second.

Bounds on the peak above the process's memory after importing the libraries (so that a larger
build of torch does not count), measured 2026-12-01 on the 2-core CPU machine, 1 torch thread,
load 1.0 – 1.8, two runs each, with a margin for allocator noise (the training peak of the
same SCMDCF run varied by a quarter):

============  =====================  ====================  ===========================
model         whole run (measured)   training (measured)   bounds: whole / training
============  =====================  ====================  ===========================
SCMDCF        713 – 721 MB           396 – 490 MB          900 / 700 MB
BICLUM        374 – 403 MB           348 – 370 MB          520 / 500 MB
============  =====================  ====================  ===========================
"""

import pytest

from scvi_contrastive.benchmark.scaling import run_scaling

#: Cells of the measured data sets (BICLUM: both modalities together).
N_CELLS = 100_000
#: Steps of BICLUM's first epoch that are run (of 391): its run takes about 90 s.
BICLUM_STEPS = 100
#: Per model: most steps of the first epoch, and the bounds above the libraries' memory (MB)
#: of the whole run (setup included) and of training with the latent.
BOUNDS = {"SCMDCF": (400, 900.0, 700.0), "BICLUM": (BICLUM_STEPS, 520.0, 500.0)}


@pytest.mark.parametrize("model", list(BOUNDS))
def test_peak_memory_of_training_from_disk_stays_below_the_measured_bounds(tmp_path, model):
    max_steps, bound, training_bound = BOUNDS[model]
    table = run_scaling(
        out=tmp_path,
        sizes=[N_CELLS],
        models=[model],
        backed=True,
        timeout_s=600,
        max_steps=max_steps,
    )
    row = table.iloc[0]
    assert row["status"] == "ok" and row["backed"], row.to_dict()
    assert row["boundary_s"] > 0 and row["latent_s"] > 0, row.to_dict()  # refresh and latent ran
    for key, limit in (("peak_rss_mb", bound), ("train_peak_rss_mb", training_bound)):
        growth = row[key] - row["baseline_rss_mb"]
        assert growth < limit, (
            f"{model} {key}: training from disk on {N_CELLS:,} cells peaked {growth:.0f} MB "
            f"above the libraries' memory, past the measured bound of {limit:.0f} MB; see "
            f"{tmp_path / 'logs'}"
        )
