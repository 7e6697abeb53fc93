"""Command line: ``scvi-contrastive demo`` and ``scvi-contrastive benchmark ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .benchmark.__main__ import main as benchmark_main
from .model.scmdcf import DEFAULT_MAX_EPOCHS

#: Epochs of the demo, for SCMDCF and totalVI alike (SCMDCF's default).
DEMO_EPOCHS = DEFAULT_MAX_EPOCHS


def demo(out: str = "results/demo", max_epochs: int = DEMO_EPOCHS, threads: int | None = None):
    """Integrate the real PBMC CITE-seq data with SCMDCF, next to totalVI, in one run.

    Both models train for ``max_epochs``. Writes into ``out``: the embeddings and SCMDCF's
    clusters (``embeddings_pbmc10x_cite.h5ad``: ``.obsm["X_<model>"]``,
    ``.obs["<model>_cluster"]``), a UMAP panel (``umap_pbmc10x_cite.png``), the scib-metrics
    table (``scib_pbmc10x_cite.png``), and ARI/NMI, wall time and memory
    (``results.json``, ``results.csv``, ``summary.md``).
    """
    argv = ["--dataset", "pbmc10x_cite", "--models", "SCMDCF", "TOTALVI", "--out", out]
    argv += ["--max-epochs", str(max_epochs)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    benchmark_main(argv)
    print((Path(out) / "summary.md").read_text())


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``scvi-contrastive`` / ``python -m scvi_contrastive``."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="scvi-contrastive")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo", help="SCMDCF next to totalVI on the real PBMC CITE-seq data"
    )
    demo_parser.add_argument("--out", default="results/demo")
    demo_parser.add_argument("--max-epochs", type=int, default=DEMO_EPOCHS)
    demo_parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    commands.add_parser("benchmark", help="the side-by-side benchmark; see its --help")
    if argv[:1] == ["benchmark"]:
        benchmark_main(argv[1:])
        return
    args = parser.parse_args(argv)
    demo(args.out, args.max_epochs, args.threads)


if __name__ == "__main__":
    main()
