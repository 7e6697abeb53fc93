"""Preprocessing (gene activity, antibody → gene mapping) and readers of the real data sets."""

from .gene_activity import gene_activity
from .protein_to_gene import ANTIBODY_TO_GENE, protein_to_gene
from .readers import data_dir, read_cite_seq, read_pbmc_multiome

__all__ = [
    "ANTIBODY_TO_GENE",
    "data_dir",
    "gene_activity",
    "protein_to_gene",
    "read_cite_seq",
    "read_pbmc_multiome",
]
