"""Genomic coordinates of ATAC peaks and genes, read from names, tables and GTF/GFF files.

:func:`~scvi_contrastive.data.gene_activity.gene_activity` needs every peak and every gene as a
``chrom``/``start``/``end`` interval, whatever form the user has them in. This module reads
them and checks them, and nothing else:

- :func:`peak_table`: peaks from ``atac.var`` coordinate columns or from peak names written
  ``chr1:100-200`` (Cell Ranger), ``chr1-100-200`` (10x/Signac) or ``chr1_100_200`` (ArchR);
- :func:`gene_table`: genes from a GTF/GFF3 file, a :class:`~pandas.DataFrame` or an
  :class:`~anndata.AnnData`'s ``var``, with their strand;
- :func:`match_chrom_names`: catches peaks and genes that name chromosomes differently only by
  the ``chr`` prefix (``chr1`` vs ``1``), or rewrites the genes' names in the peaks' style.

All coordinates are 0-based and half-open, as in BED files and peak names written by Cell Ranger
(``chr1:100-200`` covers bases 100 ... 199). GTF/GFF files are 1-based and closed; they are
converted on reading. Malformed coordinates raise a :class:`ValueError` naming the entries, so
that a typo in a peak name is not silently read as a chromosome that matches no gene.
"""

from __future__ import annotations

import logging
import os
import re

import anndata as ad
import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

GeneAnnotation = str | os.PathLike | pd.DataFrame | ad.AnnData
"""The forms a gene annotation can take: a GTF/GFF3 path, a DataFrame or an AnnData."""

UNKNOWN_STRAND = "."
"""Strand of genes whose strand is not given (or not ``+``/``-``): neither end is the TSS."""

# "chr1:100-200" (Cell Ranger), "chr1-100-200" (10x/Signac), "chr1_100_200" (ArchR). The lazy
# chromosome group lets contig names that contain "_" or "-" (chrUn_KI270742v1) still parse.
# Signed numbers, so that a negative start is reported rather than read as part of the chrom.
_INTERVAL = re.compile(r"^(?P<chrom>.+?)[:_-](?P<start>-?\d+)[_-](?P<end>-?\d+)$")
# One attribute of a GTF (key "value";) or GFF3 (key=value;) line.
_ATTRIBUTE = r'(?:^|;)\s*{key}[ =]"?(?P<value>[^";]+)"?'
# Attributes tried, in order, for a gene's name in a GTF/GFF file.
_GENE_NAME_KEYS = ("gene_name", "Name", "gene_id", "ID")
_GENE_ID_KEYS = ("gene_id", "ID")
# Strand spellings seen in annotations (Ensembl/biomart tables write 1/-1, sometimes as floats).
_STRANDS = {"+": "+", "-": "-", "1": "+", "-1": "-", "1.0": "+", "-1.0": "-"}
# Lines of a GTF/GFF file parsed at once, so that only its gene lines are kept in memory.
_GTF_CHUNK_ROWS = 500_000
_COORDS = ["chrom", "start", "end"]


def peak_table(atac: ad.AnnData, chrom_col: str, start_col: str, end_col: str) -> pd.DataFrame:
    """Return the coordinates of ``atac``'s peaks, one row per peak in ``var`` order.

    Parameters
    ----------
    atac
        Cells x peaks data. Coordinates come from ``atac.var[[chrom_col, start_col, end_col]]``
        when all three columns exist, else from the peak names (``atac.var_names``).
    chrom_col, start_col, end_col
        Coordinate columns of ``atac.var``.

    Returns
    -------
    A DataFrame with columns ``chrom`` (str), ``start`` and ``end`` (int64), 0-based half-open,
    on a default integer index.

    Raises
    ------
    ValueError
        If a peak has no coordinates, or malformed ones (unparseable, non-integer, negative
        start, start > end).
    """
    names = pd.Series(atac.var_names.to_numpy(), dtype=object)
    columns = [chrom_col, start_col, end_col]
    if all(col in atac.var.columns for col in columns):
        table = atac.var[columns].set_axis(_COORDS, axis=1).reset_index(drop=True)
        source = f"`atac.var` columns {columns}"
    else:
        table, source = _parse_intervals(names), "peak names (`atac.var_names`)"
    peaks = _validated(table, names, "atac", source, allow_missing=False)
    return peaks.astype({"start": np.int64, "end": np.int64})


def gene_table(
    genes: GeneAnnotation,
    chrom_col: str,
    start_col: str,
    end_col: str,
    strand_col: str,
    interval_col: str,
    gene_name_col: str | None,
) -> pd.DataFrame:
    """Return the genes as chrom/start/end/strand + annotation columns, names as index.

    Parameters
    ----------
    genes
        A GTF/GFF3 path (its ``gene`` features), a DataFrame, or an AnnData whose ``var`` is
        read; see :func:`~scvi_contrastive.data.gene_activity.gene_activity`.
    chrom_col, start_col, end_col
        Coordinate columns of the table, used when all three exist.
    strand_col
        Strand column (``+``/``-``/``.``, or ``1``/``-1``); genes get :data:`UNKNOWN_STRAND`
        when it is absent or holds anything else.
    interval_col
        Column of ``chrN:start-end`` intervals, used when the coordinate columns are absent.
    gene_name_col
        Column holding gene names; ``None`` uses the index (``var_names``), or the GTF/GFF
        name attribute for a file.

    Returns
    -------
    A DataFrame indexed by gene name (names may repeat), with columns ``chrom``, ``start``,
    ``end`` (0-based half-open), ``strand`` and then the annotation's other columns. Genes
    without coordinates are kept with NaN ``chrom``/``start``/``end``, for the caller to report.

    Raises
    ------
    TypeError
        If ``genes`` is none of the supported types.
    ValueError
        If ``gene_name_col`` is not a column, the table has neither coordinate columns nor
        ``interval_col``, a GTF/GFF file has no gene lines, or coordinates are malformed.
    """
    if isinstance(genes, str | os.PathLike):
        frame = _read_gene_features(genes)
        names = frame["gene_name"] if gene_name_col is None else None
    elif isinstance(genes, pd.DataFrame):
        frame, names = genes, genes.index
    elif isinstance(genes, ad.AnnData):
        frame, names = genes.var, genes.var_names
    else:
        raise TypeError(
            "`genes` must be a GTF/GFF path, a pandas DataFrame with chrom/start/end(/strand) "
            f"columns, or an AnnData whose var has them or an interval column; got "
            f"{type(genes).__name__}."
        )
    if gene_name_col is not None:
        if gene_name_col not in frame.columns:
            raise ValueError(
                f"`gene_name_col={gene_name_col!r}` is not a column of the gene table "
                f"(columns: {list(frame.columns)})."
            )
        names = frame[gene_name_col]
    names = pd.Series(np.asarray(names).astype(str), dtype=object)
    frame = frame.reset_index(drop=True)

    columns = [chrom_col, start_col, end_col]
    if all(col in frame.columns for col in columns):
        table, source = frame[columns].set_axis(_COORDS, axis=1), f"columns {columns}"
    elif interval_col in frame.columns:
        table, source = _parse_intervals(frame[interval_col]), f"column {interval_col!r}"
    else:
        raise ValueError(
            f"`genes` needs coordinate columns {columns} or an {interval_col!r} column "
            f"(found {list(frame.columns)}); set `chrom_col`/`start_col`/`end_col` or "
            "`interval_col` to the names it uses."
        )
    coords = _validated(table, names, "genes", source, allow_missing=True)
    strand = frame[strand_col] if strand_col in frame.columns else None
    return _assemble_genes(frame, names, coords, strand)


def match_chrom_names(peaks: pd.DataFrame, genes: pd.DataFrame, harmonize: bool) -> pd.DataFrame:
    """Catch chromosome names that differ only by the ``chr`` prefix, or rewrite the genes'.

    Parameters
    ----------
    peaks
        Peak table with a ``chrom`` column, as :func:`peak_table` returns.
    genes
        Gene table with a ``chrom`` column, as :func:`gene_table` returns.
    harmonize
        If ``True``, rename the genes' chromosomes in the peaks' style (``1`` -> ``chr1``,
        ``MT`` -> ``chrM`` and back) instead of raising.

    Returns
    -------
    ``genes`` itself when the names already agree, else a copy with ``chrom`` rewritten.

    Raises
    ------
    ValueError
        If the names differ by the ``chr`` prefix and ``harmonize`` is ``False``.
    """
    peak_chroms, gene_chroms = set(peaks["chrom"]), set(genes["chrom"])
    shared = peak_chroms & gene_chroms
    shared_keys = {_chrom_key(c) for c in peak_chroms} & {_chrom_key(c) for c in gene_chroms}
    # Only a mismatch that the prefix would explain is an error: chromosomes that simply have
    # no genes (or no peaks) are normal and just get no overlaps.
    if len(shared_keys) <= len(shared):
        return genes
    if not harmonize:
        peak_only = sorted(peak_chroms - gene_chroms)[:3]
        gene_only = sorted(gene_chroms - peak_chroms)[:3]
        raise ValueError(
            f"Peaks and genes name chromosomes differently: `atac` peaks use {peak_only} but "
            f"`genes` use {gene_only} (a 'chr' prefix on one side only). Rename one side's "
            "chromosomes, or pass `harmonize_chrom=True` to rewrite the genes' in the peaks' "
            "style."
        )
    by_key = {_chrom_key(c): c for c in peak_chroms}
    renamed = genes["chrom"].map(lambda c: by_key.get(_chrom_key(c), c))
    logger.info(
        "harmonize_chrom: renamed the chromosome of %d genes to the peaks' naming.",
        int((renamed != genes["chrom"]).sum()),
    )
    return genes.assign(chrom=renamed)


def _parse_intervals(strings: pd.Series) -> pd.DataFrame:
    """Split ``chr:start-end`` strings into chrom/start/end; missing entries give NaN rows."""
    present = strings.notna() & ~strings.astype(str).str.strip().isin(["", "NA", "nan"])
    parsed = strings.astype(str).str.extract(_INTERVAL)
    # Entries that are there but do not parse get chrom "" so validation reports them.
    parsed.loc[present & parsed["chrom"].isna(), "chrom"] = ""
    return parsed


def _validated(
    table: pd.DataFrame, names: pd.Series, argument: str, source: str, allow_missing: bool
) -> pd.DataFrame:
    """Check a chrom/start/end table; rows with no coordinate at all are kept as NaN."""
    missing = table.isna().all(axis=1).to_numpy()
    starts = pd.to_numeric(table["start"], errors="coerce")
    ends = pd.to_numeric(table["end"], errors="coerce")
    problems = {
        "missing coordinates": missing if not allow_missing else np.zeros_like(missing),
        "unparseable coordinates": ~missing & (table["chrom"].isna() | (table["chrom"] == "")),
        "non-integer start or end": ~missing
        & (starts.isna() | ends.isna() | (starts % 1 != 0) | (ends % 1 != 0)),
        "a negative start": starts < 0,
        "start > end": starts > ends,
    }
    for what, rows in problems.items():
        rows = np.asarray(rows, dtype=bool)
        if rows.any():
            raise ValueError(
                f"{int(rows.sum())} intervals of `{argument}` ({source}) have {what}, e.g. "
                f"{names[rows].head(3).tolist()}. Write coordinates as 'chr1:100-200' (or "
                "'chr1-100-200', 'chr1_100_200') or chrom/start/end columns, 0-based "
                "half-open with 0 <= start <= end; fix or drop these entries."
            )
    return pd.DataFrame(
        {
            "chrom": table["chrom"].map(str, na_action="ignore").to_numpy(),
            "start": starts.to_numpy(),
            "end": ends.to_numpy(),
        }
    )


def _assemble_genes(
    frame: pd.DataFrame, names: pd.Series, coords: pd.DataFrame, strand: pd.Series | None
) -> pd.DataFrame:
    """Coordinates and strand first, then the annotation's other columns; names as index."""
    if strand is None:
        coords["strand"] = UNKNOWN_STRAND
    else:
        strand = strand.astype(str).str.strip().map(_STRANDS).fillna(UNKNOWN_STRAND)
        coords["strand"] = strand.to_numpy()
    extra = frame.drop(columns=[c for c in coords.columns if c in frame.columns])
    # Genes without coordinates keep NaN here; gene_activity reports and drops them.
    return pd.concat([coords, extra], axis=1).set_index(pd.Index(names, name=None))


def _read_gene_features(path: str | os.PathLike) -> pd.DataFrame:
    """Read the ``gene`` features of a GTF/GFF3 file, in 0-based half-open coordinates."""
    columns = ["chrom", "source", "feature", "start", "end", "score", "strand", "frame", "attr"]
    reader = pd.read_csv(
        path,
        sep="\t",
        comment="#",
        header=None,
        names=columns,
        usecols=["chrom", "feature", "start", "end", "strand", "attr"],
        dtype={"chrom": str, "feature": str, "strand": str, "attr": str},
        chunksize=_GTF_CHUNK_ROWS,
    )
    # Reading in chunks keeps only gene rows: a full GENCODE GTF has ~3 million lines.
    features = pd.concat([chunk[chunk["feature"] == "gene"] for chunk in reader])
    if features.empty:
        raise ValueError(
            f"`genes` file {os.fspath(path)!r} has no 'gene' features; pass a GTF/GFF3 with "
            "gene lines, or a table of gene coordinates."
        )
    return pd.DataFrame(
        {
            "chrom": features["chrom"].to_numpy(),
            "start": features["start"].to_numpy(np.int64) - 1,  # GTF/GFF are 1-based, closed
            "end": features["end"].to_numpy(np.int64),
            "strand": features["strand"].to_numpy(),
            "gene_name": _first_attribute(features["attr"], _GENE_NAME_KEYS),
            "gene_id": _first_attribute(features["attr"], _GENE_ID_KEYS),
        }
    )


def _first_attribute(attributes: pd.Series, keys: tuple[str, ...]) -> np.ndarray:
    """Value of the first of ``keys`` present in each GTF/GFF attribute string, else NaN.

    Keys are tried in order so that a human-readable name (``gene_name``) wins over an
    identifier (``gene_id``) where a file has both, and files that have only one still work.
    """
    values = pd.Series(np.nan, index=attributes.index, dtype=object)
    for key in keys:
        found = attributes.str.extract(_ATTRIBUTE.format(key=re.escape(key)))["value"]
        values = values.fillna(found)
    return values.to_numpy()


def _chrom_key(chrom: str) -> str:
    """Chromosome name without the ``chr`` prefix, mitochondria as ``M`` (UCSC ``chrM``).

    Ensembl writes the mitochondrial chromosome ``MT`` and UCSC ``chrM``, so removing the
    prefix alone would not match them.
    """
    key = chrom.removeprefix("chr")
    return "M" if key == "MT" else key
