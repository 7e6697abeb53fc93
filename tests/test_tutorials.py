"""Run every tutorial end to end, with a few training epochs, in a fresh kernel."""

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.py"))
#: Epochs each model trains for in CI: enough to run every cell, not to give good results.
QUICK_EPOCHS = "2"


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.stem)
def test_tutorial_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if "scvi_contrastive.hub" in path.read_text():
        pytest.importorskip("huggingface_hub")  # scvi-hub's optional dependency
    notebook = jupytext.read(path)
    monkeypatch.setenv("SCVI_CONTRASTIVE_TUTORIAL_EPOCHS", QUICK_EPOCHS)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The kernel inherits this environment: one thread for torch and for numba (whose
    # thread pool would otherwise raise torch's thread count when scanpy first uses it).
    threads = os.environ.get("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    monkeypatch.setenv("NUMBA_NUM_THREADS", threads)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        # The kernel works in a temporary folder: nothing is written into the repository.
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    assert all(
        output.get("output_type") != "error"
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
