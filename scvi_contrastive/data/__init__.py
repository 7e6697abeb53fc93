"""Preprocessing (gene activity, peak LSI, antibody → gene) and readers of the real data sets."""

from .gene_activity import gene_activity
from .marker_labels import PBMC_MARKERS, marker_labels
from .peak_lsi import peak_lsi
from .protein_to_gene import ANTIBODY_TO_GENE, protein_to_gene
from .readers import (
    DATASETS,
    data_dir,
    read_cite_seq,
    read_dataset,
    read_h5mu_dataset,
    read_pbmc_multiome,
)

__all__ = [
    "ANTIBODY_TO_GENE",
    "DATASETS",
    "PBMC_MARKERS",
    "data_dir",
    "gene_activity",
    "marker_labels",
    "peak_lsi",
    "protein_to_gene",
    "read_cite_seq",
    "read_dataset",
    "read_h5mu_dataset",
    "read_pbmc_multiome",
]
