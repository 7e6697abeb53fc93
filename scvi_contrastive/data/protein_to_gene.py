"""Rename CITE-seq antibody features to the gene symbols of their target proteins.

BiCLUM pairs a protein with an RNA feature when both carry the same gene name, so ADT columns
named ``CD3_TotalSeqB`` or ``CD16`` must become ``CD3E`` and ``FCGR3A``. :func:`protein_to_gene`
does this with a small curated table of common TotalSeq/BioLegend panel names, which a user
mapping extends or overrides.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Literal

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse
from scvi import settings

from .validation import named_layers

logger = logging.getLogger(__name__)

#: Antibody target (CD name or common protein name) -> HGNC gene symbol of the protein. Keys are
#: matched case-insensitively with ``-``, ``_``, ``.`` and spaces treated alike. Targets that
#: are not the product of one gene (CD15 = Lewis X glycan, HLA-ABC = three genes, TCR chains)
#: are left out on purpose: a wrong gene would be paired with the RNA silently.
ANTIBODY_TO_GENE: dict[str, str] = {
    "CD1a": "CD1A",
    "CD1c": "CD1C",
    "CD2": "CD2",
    "CD3": "CD3E",
    "CD4": "CD4",
    "CD5": "CD5",
    "CD7": "CD7",
    "CD8": "CD8A",
    "CD8a": "CD8A",
    "CD8b": "CD8B",
    "CD9": "CD9",
    "CD10": "MME",
    "CD11a": "ITGAL",
    "CD11b": "ITGAM",
    "CD11c": "ITGAX",
    "CD13": "ANPEP",
    "CD14": "CD14",
    "CD16": "FCGR3A",
    "CD19": "CD19",
    "CD20": "MS4A1",
    "CD21": "CR2",
    "CD22": "CD22",
    "CD24": "CD24",
    "CD25": "IL2RA",
    "CD26": "DPP4",
    "CD27": "CD27",
    "CD28": "CD28",
    "CD29": "ITGB1",
    "CD31": "PECAM1",
    "CD32": "FCGR2A",
    "CD33": "CD33",
    "CD34": "CD34",
    "CD35": "CR1",
    "CD36": "CD36",
    "CD38": "CD38",
    "CD39": "ENTPD1",
    "CD40": "CD40",
    "CD41": "ITGA2B",
    "CD44": "CD44",
    "CD45": "PTPRC",
    "CD45RA": "PTPRC",
    "CD45RB": "PTPRC",
    "CD45RO": "PTPRC",
    "CD47": "CD47",
    "CD48": "CD48",
    "CD49d": "ITGA4",
    "CD52": "CD52",
    "CD54": "ICAM1",
    "CD56": "NCAM1",
    "CD57": "B3GAT1",
    "CD58": "CD58",
    "CD61": "ITGB3",
    "CD62L": "SELL",
    "CD64": "FCGR1A",
    "CD69": "CD69",
    "CD71": "TFRC",
    "CD73": "NT5E",
    "CD79a": "CD79A",
    "CD79b": "CD79B",
    "CD80": "CD80",
    "CD83": "CD83",
    "CD86": "CD86",
    "CD94": "KLRD1",
    "CD95": "FAS",
    "CD103": "ITGAE",
    "CD107a": "LAMP1",
    "CD117": "KIT",
    "CD122": "IL2RB",
    "CD123": "IL3RA",
    "CD127": "IL7R",
    "CD134": "TNFRSF4",
    "CD137": "TNFRSF9",
    "CD141": "THBD",
    "CD154": "CD40LG",
    "CD161": "KLRB1",
    "CD163": "CD163",
    "CD183": "CXCR3",
    "CD185": "CXCR5",
    "CD194": "CCR4",
    "CD195": "CCR5",
    "CD196": "CCR6",
    "CD197": "CCR7",
    "CD223": "LAG3",
    "CD226": "CD226",
    "CD235a": "GYPA",
    "CD244": "CD244",
    "CD272": "BTLA",
    "CD274": "CD274",
    "CD278": "ICOS",
    "CD279": "PDCD1",
    "CD303": "CLEC4C",
    "CD304": "NRP1",
    "CD335": "NCR1",
    "CD366": "HAVCR2",
    "CCR4": "CCR4",
    "CCR5": "CCR5",
    "CCR6": "CCR6",
    "CCR7": "CCR7",
    "CXCR3": "CXCR3",
    "CXCR5": "CXCR5",
    "FceRIa": "FCER1A",
    "HLA-DR": "HLA-DRA",
    "ICOS": "ICOS",
    "IgD": "IGHD",
    "IgM": "IGHM",
    "KLRG1": "KLRG1",
    "LAG-3": "LAG3",
    "NKG2D": "KLRK1",
    "PD-1": "PDCD1",
    "PD1": "PDCD1",
    "PD-L1": "CD274",
    "TIGIT": "TIGIT",
    "TIM-3": "HAVCR2",
}

# Decorations that panels add around the target name: "ADT_CD3", "CD3_TotalSeqB", "CD3-TotalA",
# "CD3_ADT". Stripped before the lookup.
_PREFIX = re.compile(r"^(adt|ab|anti)[-_. ]", re.IGNORECASE)
_SUFFIX = re.compile(r"[-_. ](total(seq)?[-_. ]?[abc]|adt|prot|protein|antibody)$", re.IGNORECASE)
_SEPARATOR = re.compile(r"[-_. ]+")


def protein_to_gene(
    prot: ad.AnnData,
    mapping: Mapping[str, str] | None = None,
    *,
    gene_symbols: Iterable[str] | None = None,
    duplicates: Literal["sum", "first"] = "sum",
    use_default_table: bool = True,
) -> ad.AnnData:
    """Rename antibody (ADT) features to the gene symbols of the proteins they detect.

    Each antibody name is cleaned (``ADT_`` prefixes and ``_TotalSeqB``, ``-TotalA``, ``_ADT``
    suffixes removed) and looked up case-insensitively, with ``-``, ``_``, ``.`` and spaces
    treated alike, in :data:`ANTIBODY_TO_GENE` updated by ``mapping``. If the whole name is not
    found, its parts are tried in order, so ``CD127-IL7Ra`` and ``CD4_RPA-T4`` (target plus
    clone) resolve through ``CD127`` and ``CD4``. Then, if ``gene_symbols`` is given, a name (or
    part) equal to one of them maps to it.

    Parameters
    ----------
    prot
        Cells x antibodies counts; ``var_names`` are the antibody names. Not modified.
    mapping
        Antibody name -> gene symbol. Extends the default table and wins over it.
    gene_symbols
        Known gene symbols (e.g. the RNA modality's ``var_names``): an antibody already named
        by one of them maps to it without a table entry.
    duplicates
        What to do when several antibodies map to one gene (``CD45``, ``CD45RA`` and ``CD45RO``
        all detect PTPRC). ``"sum"`` (default) adds their counts, the gene-level quantity that
        RNA measures; ``"first"`` keeps the first antibody in ``prot`` order and drops the
        others with a warning. Either way the antibodies involved are listed in
        ``uns["protein_to_gene"]["merged"]``.
    use_default_table
        If ``False``, only ``mapping`` (and ``gene_symbols``) are used.

    Returns
    -------
    A new :class:`~anndata.AnnData` with one column per gene, in the order the genes first
    appear in ``prot``: ``X`` and every layer are combined alike (sparse stays sparse, the dtype
    is kept), ``obs`` is copied, ``var["antibody"]`` holds the antibody name(s) behind each
    gene (comma-separated when summed), and ``uns["protein_to_gene"]`` holds ``unmapped`` (the
    antibodies left out, e.g. isotype controls; also reported by a warning), ``merged``
    (gene -> antibodies, for genes with several) and ``duplicates``.

    Raises
    ------
    ValueError
        If no antibody maps to a gene, or ``duplicates`` is not ``"sum"`` or ``"first"``.

    Examples
    --------
    >>> prot_genes = protein_to_gene(mdata["prot"], {"CD3_UCHT1": "CD3E"})

    """
    if duplicates not in ("sum", "first"):
        raise ValueError(f"`duplicates` must be 'sum' or 'first', got {duplicates!r}.")
    table = _lookup_table(mapping, use_default_table)
    symbols = {_key(str(s)): str(s) for s in (() if gene_symbols is None else gene_symbols)}
    antibodies = prot.var_names.astype(str).tolist()
    targets = [_resolve(name, table, symbols) for name in antibodies]

    unmapped = [name for name, gene in zip(antibodies, targets, strict=True) if gene is None]
    if len(unmapped) == len(antibodies):
        raise ValueError(
            f"None of the {len(antibodies)} antibodies of `prot` maps to a gene (e.g. "
            f"{antibodies[:3]}). Pass `mapping={{antibody: gene}}` or `gene_symbols=`."
        )
    if unmapped:
        warnings.warn(
            f"{len(unmapped)} antibodies have no gene and are left out: {unmapped}. Add them "
            "to `mapping` if they detect a single gene's product.",
            UserWarning,
            stacklevel=settings.warnings_stacklevel,
        )

    groups: dict[str, list[str]] = {}
    for antibody, gene in zip(antibodies, targets, strict=True):
        if gene is not None:
            groups.setdefault(gene, []).append(antibody)
    genes = list(groups)
    merged = {gene: group for gene, group in groups.items() if len(group) > 1}
    if merged and duplicates == "first":
        warnings.warn(
            f"Several antibodies detect the same gene; keeping the first of each: "
            f"{_listing(merged)}.",
            UserWarning,
            stacklevel=settings.warnings_stacklevel,
        )
    elif merged:
        logger.info("Summing the counts of antibodies that detect one gene: %s.", _listing(merged))

    combine = _combination_matrix(antibodies, targets, genes, duplicates)
    kept = {gene: group if duplicates == "sum" else group[:1] for gene, group in groups.items()}
    var = pd.DataFrame({"antibody": [",".join(kept[gene]) for gene in genes]}, index=genes)
    result = ad.AnnData(
        X=_combine(prot.X, combine),
        obs=prot.obs.copy(),
        var=var,
        layers={name: _combine(prot.layers[name], combine) for name in named_layers(prot)},
    )
    result.uns["protein_to_gene"] = {
        "unmapped": unmapped,
        "merged": merged,
        "duplicates": duplicates,
    }
    return result


def _key(name: str) -> str:
    return _SEPARATOR.sub("-", name.strip().lower()).strip("-")


def _clean(name: str) -> str:
    """Strip panel decorations (``ADT_``, ``_TotalSeqB`` ...) around the target name."""
    previous = None
    while previous != name:
        previous, name = name, _SUFFIX.sub("", _PREFIX.sub("", name.strip()))
    return name


def _lookup_table(mapping: Mapping[str, str] | None, use_default: bool) -> dict[str, str]:
    table = {_key(k): v for k, v in ANTIBODY_TO_GENE.items()} if use_default else {}
    table.update({_key(_clean(k)): v for k, v in (mapping or {}).items()})
    return table


def _resolve(name: str, table: dict[str, str], symbols: dict[str, str]) -> str | None:
    """Gene of one antibody: whole name, then its parts, in the table, then in ``symbols``."""
    whole = _key(_clean(name))
    candidates = [whole, *whole.split("-")]
    for lookup in (table, symbols):
        for candidate in candidates:
            if candidate in lookup:
                return lookup[candidate]
    return None


def _listing(merged: dict[str, list[str]]) -> str:
    return "; ".join(f"{gene}: {', '.join(group)}" for gene, group in merged.items())


def _combination_matrix(
    antibodies: list[str], targets: list[str | None], genes: list[str], duplicates: str
) -> sparse.csr_matrix:
    """0/1 antibodies x genes matrix: counts @ matrix sums (or picks) antibodies per gene."""
    column = {gene: j for j, gene in enumerate(genes)}
    rows, cols = [], []
    for i, gene in enumerate(targets):
        if gene is None or (duplicates == "first" and column[gene] in cols):
            continue  # "first": a later antibody of an already-filled gene is dropped
        rows.append(i)
        cols.append(column[gene])
    values = np.ones(len(rows), dtype=np.int8)
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(antibodies), len(genes)))


def _combine(
    matrix: np.ndarray | sparse.spmatrix, combine: sparse.csr_matrix
) -> np.ndarray | sparse.csr_matrix:
    """Return ``matrix @ combine`` in the matrix's own dtype and format."""
    combine = combine.astype(matrix.dtype)
    if sparse.issparse(matrix):
        return sparse.csr_matrix(matrix @ combine)
    # The combination matrix is antibodies x genes, a few hundred entries: dense is cheapest.
    return np.asarray(matrix) @ combine.toarray()
