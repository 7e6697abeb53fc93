"""Adapters that run each benchmarked method and return a :class:`~.result.MethodResult`.

Peer packages (``scmdcf``, ``scglue``) are optional: an adapter imports them only when it runs,
and the runner turns a missing package into a ``not installed`` row.
"""

from collections.abc import Callable

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.result import MethodResult

from ._base import MethodNotApplicable, MethodNotAvailable, RunSettings
from .baselines import run_rna_pca, run_wnn
from .glue import run_glue
from .multivi import run_multivi
from .ours import run_biclum, run_scmdcf
from .scmdcf_original import run_scmdcf_original
from .totalvi import run_totalvi
from .unpaired_baselines import run_cca, run_gene_activity_pca

Adapter = Callable[[BenchmarkDataset, RunSettings], MethodResult]

#: Method name -> adapter. Names are matched case-insensitively by :func:`get_adapter`.
ADAPTERS: dict[str, Adapter] = {
    "SCMDCF": run_scmdcf,
    "BICLUM": run_biclum,
    "TOTALVI": run_totalvi,
    "MULTIVI": run_multivi,
    "scMDCF-original": run_scmdcf_original,
    "GLUE": run_glue,
    "WNN": run_wnn,
    "RNA-PCA": run_rna_pca,
    "GeneActivity-PCA": run_gene_activity_pca,
    "CCA": run_cca,
}

#: How to install each optional peer, shown in ``not installed`` rows.
INSTALL_HINTS = {
    "scMDCF": "pip install scmdcf --no-deps",
    "scglue": "pip install scglue",
    "bedtools": "apt-get install bedtools",
}

#: Our model for each kind of task, against which the report computes ratios.
OURS = {"paired": "SCMDCF", "unpaired": "BICLUM"}


def get_adapter(name: str) -> tuple[str, Adapter]:
    """Return the canonical method name and its adapter (case-insensitive lookup)."""
    for canonical, adapter in ADAPTERS.items():
        if canonical.lower() == name.lower():
            return canonical, adapter
    raise ValueError(f"Unknown method {name!r}; choose from {list(ADAPTERS)}.")


__all__ = [
    "ADAPTERS",
    "INSTALL_HINTS",
    "OURS",
    "MethodNotApplicable",
    "MethodNotAvailable",
    "RunSettings",
    "get_adapter",
]
