"""Command line: ``scvi-contrastive demo`` and ``scvi-contrastive benchmark ...``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .benchmark.__main__ import check_output_folder
from .benchmark.__main__ import main as benchmark_main

#: Paired CITE-seq data with named cell types (6,821 PBMCs, 4,000 genes, 14 antibodies).
DEMO_DATASET = "pbmc10k_cite_named"
#: Epochs of the demo, for SCMDCF and totalVI alike: equal epochs for a side-by-side, enough
#: for totalVI (SCMDCF's own default on these 6,821 cells is 15 since 2026-12-01, see
#: ``model.scmdcf.default_max_epochs``; the README's demo figures were measured at 59).
DEMO_EPOCHS = 59
DEMO_MODELS = ("SCMDCF", "TOTALVI")
#: More threads than this gain little on models this small and crowd shared machines.
MAX_DEFAULT_THREADS = 8


def default_threads() -> int:
    """CPU threads for torch: the cores this process may use, on small machines all of them.

    The cores are counted as Linux's affinity (and ``nproc``) sees them, not the host's total;
    the count is capped at :data:`MAX_DEFAULT_THREADS`.
    """
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(len(available) if available else os.cpu_count() or 1, MAX_DEFAULT_THREADS))


def demo(
    out: str = "results/demo",
    max_epochs: int = DEMO_EPOCHS,
    threads: int | None = None,
    progress: bool = True,
) -> int:
    """Integrate the real PBMC 10k CITE-seq data with SCMDCF, next to totalVI, in one run.

    Both models train for ``max_epochs``, with scvi-tools' progress bar unless ``progress`` is
    off. Writes into ``out``: the embeddings and SCMDCF's clusters
    (``embeddings_pbmc10k_cite_named.h5ad``: ``.obsm["X_<model>"]``, ``.obs["<model>_cluster"]``),
    UMAPs coloured by cell type and by SCMDCF's own clusters (``umap_demo.png``; the runner's
    smaller panel is ``umap_pbmc10k_cite_named.png``), the scib-metrics table
    (``scib_pbmc10k_cite_named.png``), and ARI/NMI, wall time and memory (``results.json``,
    ``results.csv``, ``summary.md``).

    Returns
    -------
    The exit status: 1 if a model failed, else 0.
    """
    threads = default_threads() if threads is None else threads
    print(
        f"Demo: {' and '.join(DEMO_MODELS)} on {DEMO_DATASET}, {max_epochs} epochs each, "
        f"{threads} torch threads; results in {out}/",
        flush=True,
    )
    argv = ["--dataset", DEMO_DATASET, "--models", *DEMO_MODELS, "--out", out]
    argv += ["--max-epochs", str(max_epochs), "--threads", str(threads)]
    argv += ["--progress"] if progress else ["--no-progress"]
    status = benchmark_main(argv)
    embeddings = Path(out) / f"embeddings_{DEMO_DATASET}.h5ad"
    if embeddings.is_file():
        demo_umap(embeddings, Path(out) / "umap_demo.png")
    print((Path(out) / "summary.md").read_text())
    return status


def demo_umap(embeddings: Path, path: Path) -> None:
    """Large UMAPs of each model's embedding, by cell type and by SCMDCF's own clusters."""
    import anndata as ad

    from .benchmark.datasets import LABEL_KEY
    from .benchmark.plots import umap_panel

    adata = ad.read_h5ad(embeddings)
    views = {key.removeprefix("X_"): (adata.obsm[key], None) for key in adata.obsm}
    colors = {"cell type": adata.obs[LABEL_KEY].to_numpy()}
    for column in adata.obs.columns:
        if column.endswith("_cluster"):
            name = f"{column.removesuffix('_cluster')}'s own clusters"
            colors[name] = adata.obs[column].to_numpy()
    umap_panel(views, colors, f"{DEMO_DATASET}: joint embeddings", path, panel_size=5.5)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``scvi-contrastive`` / ``python -m scvi_contrastive``."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="scvi-contrastive")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo",
        help="SCMDCF next to totalVI on the real PBMC 10k CITE-seq data",
        description=f"Train SCMDCF and totalVI on {DEMO_DATASET} (6,821 PBMCs with named cell "
        "types), score them and draw UMAPs. Exits with status 1 if a model failed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo_parser.add_argument("--out", default="results/demo", help="output folder")
    demo_parser.add_argument(
        "--max-epochs", type=int, default=DEMO_EPOCHS, help="epochs of each model"
    )
    demo_parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"torch CPU threads (None: the cores available, at most {MAX_DEFAULT_THREADS})",
    )
    demo_parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show scvi-tools' progress bar while each model trains",
    )
    commands.add_parser("benchmark", help="the side-by-side benchmark; see its --help")
    if argv[:1] == ["benchmark"]:
        return benchmark_main(argv[1:])
    args = parser.parse_args(argv)
    check_output_folder(demo_parser, args.out)
    return demo(args.out, args.max_epochs, args.threads, args.progress)


if __name__ == "__main__":
    raise SystemExit(main())
