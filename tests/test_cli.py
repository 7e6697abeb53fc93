"""The two command lines: help with defaults, output folder checked first, exit status."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import scvi_contrastive.__main__ as cli
import scvi_contrastive.benchmark.__main__ as benchmark_cli
from scvi_contrastive.benchmark import plots
from scvi_contrastive.benchmark.datasets import load_dataset


def _report(*statuses):
    methods = [{"method": f"M{i}", "status": s} for i, s in enumerate(statuses)]
    return {"datasets": [{"name": "cbmc_cite", "methods": methods}]}


@pytest.mark.parametrize(
    ("argv", "default"),
    [(["demo", "--help"], "(default: results/demo)"), (["benchmark", "--help"], "(default:")],
)
def test_help_shows_the_defaults(capsys, argv, default):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    assert default in capsys.readouterr().out


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [(("ok", "not installed: x"), 0), (("ok", "failed: RuntimeError: boom"), 1)],
)
def test_benchmark_exit_status_says_whether_a_model_failed(
    monkeypatch, tmp_path, statuses, expected
):
    monkeypatch.setattr(benchmark_cli, "run_benchmark", lambda **kwargs: _report(*statuses))
    assert benchmark_cli.main(["--out", str(tmp_path)]) == expected


def _refuse_to_train(**kwargs):
    raise AssertionError("training started")


@pytest.mark.parametrize("command", [["demo"], ["benchmark"]])
def test_an_output_path_that_is_a_file_stops_before_training(
    monkeypatch, tmp_path, capsys, command
):
    monkeypatch.setattr(benchmark_cli, "run_benchmark", _refuse_to_train)
    taken = tmp_path / "results"
    taken.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--out", str(taken)])
    assert exit_info.value.code == 2
    assert "is a file; give a folder" in capsys.readouterr().err


def test_demo_shows_progress_on_named_data_and_fails_loudly(monkeypatch, tmp_path):
    seen = {}

    def fake_run(**kwargs):
        seen.update(kwargs)
        (tmp_path / "summary.md").write_text("summary")
        return _report("ok", "failed: ValueError: bad")

    monkeypatch.setattr(benchmark_cli, "run_benchmark", fake_run)
    assert cli.main(["demo", "--out", str(tmp_path), "--max-epochs", "2"]) == 1
    assert seen["datasets"] == [cli.DEMO_DATASET]
    assert seen["progress"] is True
    assert 1 <= seen["threads"] <= cli.MAX_DEFAULT_THREADS


def test_demo_data_have_cell_type_names():
    dataset = load_dataset(cli.DEMO_DATASET, n_cells=300)
    assert dataset.paired and dataset.modalities == ("rna", "prot")
    assert {"CD4+ T-cells", "Monocytes", "B-cells"} <= set(dataset.labels)


def test_demo_umap_shows_cell_types_and_the_model_clusters(monkeypatch, tmp_path):
    obs = pd.DataFrame(
        {"cell_type": ["B", "NK"] * 5, "SCMDCF_cluster": pd.Categorical(["0", "1"] * 5)},
        index=[f"c{i}" for i in range(10)],
    )
    embedding = np.arange(40, dtype=float).reshape(10, 4)
    adata = ad.AnnData(obs=obs, obsm={"X_SCMDCF": embedding, "X_TOTALVI": embedding})
    adata.write_h5ad(tmp_path / "embeddings.h5ad")
    drawn = {}
    monkeypatch.setattr(
        plots, "umap_panel", lambda views, colors, title, path, **kw: drawn.update(locals())
    )
    cli.demo_umap(tmp_path / "embeddings.h5ad", tmp_path / "umap_demo.png")
    assert list(drawn["views"]) == ["SCMDCF", "TOTALVI"]
    assert list(drawn["colors"]) == ["cell type", "SCMDCF's own clusters"]
    assert drawn["kw"]["panel_size"] > 3.2  # larger than the runner's panels
