"""Gene activity: ATAC peak counts summed over each gene's body and promoter, in Python.

BiCLUM's RNA + ATAC input is a cells x genes "gene activity" matrix that its authors compute in
R (ArchR, Signac). :func:`gene_activity` computes the same kind of matrix from peak and gene
coordinates: a peak counts for a gene when it shares at least one base with the gene's region
(body plus promoter), and a cell's activity for the gene is the sum of its counts in those peaks.
Where gene coordinates are not at hand but a gene -> peak link table is (Cell Ranger's
``peak_annotation``, ArchR/Signac links), the same sum runs over the linked peaks.

All coordinates are 0-based and half-open, as in BED files and peak names written by Cell Ranger
(``chr1:100-200`` covers bases 100 ... 199). GTF/GFF files are 1-based and closed; they are
converted on reading. Reading and checking peak and gene coordinates is the job of
:mod:`scvi_contrastive.data.genomic_coordinates`; this module turns them into gene regions,
finds the overlapping peaks and sums their counts.
"""

from __future__ import annotations

import logging
import warnings

import anndata as ad
import bioframe
import numpy as np
import pandas as pd
from scipy import sparse
from scvi import settings

from .count_checks import check_counts
from .genomic_coordinates import (
    UNKNOWN_STRAND,
    GeneAnnotation,
    gene_table,
    match_chrom_names,
    peak_table,
)
from .validation import named_layers

logger = logging.getLogger(__name__)


def gene_activity(
    atac: ad.AnnData,
    genes: GeneAnnotation | None = None,
    *,
    links: pd.DataFrame | None = None,
    upstream: int = 2000,
    downstream: int = 0,
    gene_body: bool = True,
    layer: str | None = None,
    chrom_col: str = "chrom",
    start_col: str = "start",
    end_col: str = "end",
    strand_col: str = "strand",
    interval_col: str = "interval",
    gene_name_col: str | None = None,
    harmonize_chrom: bool = False,
) -> ad.AnnData:
    """Sum ATAC peak counts over each gene's body and promoter, or over its linked peaks.

    Give exactly one of ``genes`` (coordinates) and ``links`` (a gene -> peak table). With
    coordinates, every peak that shares at least one base with a gene's region counts for that
    gene; a peak in two genes' regions counts for both. The result is ``counts @ assignment``,
    a sparse product of the cells x peaks counts and a 0/1 peaks x genes matrix, so it stays
    sparse and integer-valued and scales to 10^5 cells x 10^5 peaks.

    A gene's region, for a gene ``[start, end)`` (0-based, half-open):

    - ``+`` strand: ``[start - upstream, end + downstream)``; with ``gene_body=False``,
      ``[start - upstream, start + 1 + downstream)`` (the TSS base is always included).
    - ``-`` strand: the mirror image, ``[start - downstream, end + upstream)``; with
      ``gene_body=False``, ``[end - 1 - downstream, end + upstream)``.
    - unknown strand (no strand column, or ``.``): ``[start - w, end + w)`` with
      ``w = max(upstream, downstream)``, whatever ``gene_body`` is, since neither end can be
      told to be the TSS. This is the case for the ``interval`` column that Cell Ranger ARC
      writes for genes: it spans the gene's transcription start sites, not its body, so the
      result is a TSS-proximal (promoter) activity.

    Regions are clipped at 0.

    Parameters
    ----------
    atac
        Cells x peaks raw counts. Peak coordinates come from ``atac.var[[chrom_col, start_col,
        end_col]]`` when all three columns exist, else from the peak names, written
        ``chr:start-end``, ``chr-start-end`` or ``chr_start_end``. Not modified.
    genes
        Gene annotation, one of

        - a path to a GTF or GFF3 file (gzipped or not); its ``gene`` features are used, named
          by the ``gene_name`` attribute (else ``Name``, ``gene_id``, ``ID``);
        - a :class:`~pandas.DataFrame` with columns ``chrom_col``, ``start_col``, ``end_col``
          and optionally ``strand_col`` (``+``/``-``/``.``, or ``1``/``-1``), or with
          ``interval_col``; gene names from the index or ``gene_name_col``;
        - an :class:`~anndata.AnnData` (e.g. the RNA modality) whose ``var`` has those
          columns or ``interval_col`` (``chrN:start-end``, as Cell Ranger writes it); gene names
          from ``var_names`` or ``var[gene_name_col]``.

        Genes whose coordinates are missing are dropped with a warning.
    links
        Instead of ``genes``: a gene -> peak table with columns ``gene`` and ``peak`` (peak
        names as in ``atac.var_names``), one row per link, as Cell Ranger's ``peak_annotation``
        (``gene`` may be its index), ArchR/Signac peak-gene links or SNARE's
        ``atac.uns["gene_peak_links"]`` give. A gene's activity is the sum of its linked peaks;
        a peak linked to two genes counts for both. Rows with a missing gene or peak and
        repeated rows are ignored; links to peaks ``atac`` lacks are left out with a warning.
        The coordinate arguments below are then not used.
    upstream
        Bases added before the TSS (strand-aware).
    downstream
        Bases added after the gene's end, or after the TSS when ``gene_body=False``.
    gene_body
        Whether the region covers the gene body. If ``False``, only the promoter around the TSS.
    layer
        Layer of ``atac`` holding raw counts; ``None`` uses ``atac.X``. Values must be finite,
        non-negative integers (any numeric dtype).
    chrom_col, start_col, end_col
        Coordinate columns, looked up in ``atac.var`` and in the gene table.
    strand_col
        Strand column of the gene table.
    interval_col
        Column holding ``chrN:start-end`` gene intervals, used when the coordinate columns are
        absent.
    gene_name_col
        Column holding gene names, for DataFrame or AnnData ``genes``; ``None`` uses the index.
    harmonize_chrom
        If the peaks and the genes name chromosomes differently only by the ``chr`` prefix
        (``chr1`` vs ``1``, ``chrM`` vs ``MT``), rewrite the gene chromosomes in the peaks'
        style instead of raising an error.

    Returns
    -------
    A new cells x genes :class:`~anndata.AnnData`. ``X`` is sparse CSR in the counts' dtype,
    widened to 32 bits if narrower (float32 sums are exact up to 2^24 per entry). ``obs`` is a
    copy of ``atac.obs``. From ``links``: one gene per distinct gene of the table, in order of
    first appearance, ``var["n_peaks"]`` its linked peaks found in ``atac``, and
    ``uns["gene_activity"]`` with ``source="links"``, the layer and ``peak_gene``. From
    ``genes``: ``var`` has one row per gene, genes without any peak included: the
    annotation's own columns plus ``chrom``, ``start``, ``end``, ``strand``, the
    ``region_start``/``region_end`` used and ``n_peaks``. If gene names repeat, ``var_names``
    are made unique and ``var["gene_name"]`` keeps the names. ``uns["gene_activity"]`` records
    the parameters and ``peak_gene``, the peak -> gene table used (columns ``peak``, ``gene``).

    Raises
    ------
    ValueError
        If both or neither of ``genes`` and ``links`` are given, ``links`` lacks the ``gene``
        or ``peak`` column or names no peak of ``atac``, coordinates are malformed,
        chromosome names differ by the ``chr`` prefix (unless ``harmonize_chrom``), no gene
        region overlaps any peak, ``layer`` is missing, or the counts are negative,
        non-integer, NaN or infinite.
    TypeError
        If ``genes`` is none of the supported types, or ``links`` is not a DataFrame.

    Examples
    --------
    >>> from scvi_contrastive.data import read_dataset
    >>> mdata = read_dataset("pbmc_multiome")
    >>> activity = gene_activity(mdata["atac"], mdata["rna"], layer="counts")
    >>> snare = read_dataset("snare_cortex")
    >>> activity = gene_activity(snare["atac"], links=snare["atac"].uns["gene_peak_links"])

    """
    if (genes is None) == (links is None):
        raise ValueError(
            "Pass exactly one of `genes` (gene coordinates: a GTF/GFF path, a DataFrame or an "
            "AnnData) and `links` (a gene -> peak table with columns 'gene' and 'peak')."
        )
    _check_extension(upstream, downstream)
    counts = _counts_matrix(atac, layer)
    if links is not None:
        return _activity_from_links(atac, counts, links, layer)
    peaks = peak_table(atac, chrom_col, start_col, end_col)
    annotation = gene_table(
        genes, chrom_col, start_col, end_col, strand_col, interval_col, gene_name_col
    )
    unplaced = annotation["chrom"].isna().to_numpy()
    if unplaced.any():
        warnings.warn(
            f"{int(unplaced.sum())} of {len(annotation)} genes have no coordinates and are left "
            f"out of the gene activity, e.g. {annotation.index[unplaced][:3].tolist()}.",
            UserWarning,
            stacklevel=settings.warnings_stacklevel,
        )
        annotation = annotation[~unplaced]
    annotation = annotation.astype({"start": np.int64, "end": np.int64})
    annotation = match_chrom_names(peaks, annotation, harmonize_chrom)
    regions = _gene_regions(annotation, upstream, downstream, gene_body)
    peak_idx, gene_idx = _overlapping_pairs(peaks, regions)

    activity = _summed_counts(counts, peak_idx, gene_idx, annotation.shape[0])

    var = _output_var(annotation, regions, np.bincount(gene_idx, minlength=annotation.shape[0]))
    if var.index.has_duplicates:
        warnings.warn(
            f"{int(var.index.duplicated().sum())} gene names repeat (e.g. "
            f"{var.index[var.index.duplicated()][:3].tolist()}); each gene record keeps its "
            "own column, with var_names made unique and the name in var['gene_name'].",
            UserWarning,
            stacklevel=settings.warnings_stacklevel,
        )
        var["gene_name"] = var.index.to_numpy()
        var.index = ad.utils.make_index_unique(var.index)
    result = ad.AnnData(X=activity, obs=atac.obs.copy(), var=var)
    result.uns["gene_activity"] = {
        "upstream": upstream,
        "downstream": downstream,
        "gene_body": gene_body,
        "layer": "X" if layer is None else layer,
        "coordinates": "0-based half-open (BED)",
        "n_genes_unknown_strand": int((annotation["strand"] == UNKNOWN_STRAND).sum()),
        "peak_gene": pd.DataFrame(
            {
                "peak": atac.var_names.to_numpy()[peak_idx].astype(str),
                "gene": var.index.to_numpy()[gene_idx].astype(str),
            }
        ),
    }
    return result


def _activity_from_links(
    atac: ad.AnnData, counts: sparse.csr_matrix, links: pd.DataFrame, layer: str | None
) -> ad.AnnData:
    """Summed counts of each gene's linked peaks (see :func:`gene_activity`)."""
    table = _link_table(links)
    peak_idx = atac.var_names.get_indexer(table["peak"])
    missing = peak_idx < 0
    if missing.all():
        raise ValueError(
            f"None of the {len(table)} links of `links` names a peak of `atac` (e.g. "
            f"{table['peak'].head(3).tolist()} vs `atac.var_names` {atac.var_names[:3].tolist()}"
            "); write the link table's peaks exactly as `atac.var_names`."
        )
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} of {len(table)} links name peaks that `atac` lacks and are "
            f"left out, e.g. {table['peak'][missing].head(3).tolist()}.",
            UserWarning,
            stacklevel=settings.warnings_stacklevel,
        )
    genes = pd.Index(pd.unique(table["gene"]))
    gene_idx = genes.get_indexer(table["gene"])
    peak_idx, gene_idx = peak_idx[~missing], gene_idx[~missing]
    activity = _summed_counts(counts, peak_idx, gene_idx, len(genes))
    var = pd.DataFrame({"n_peaks": np.bincount(gene_idx, minlength=len(genes))}, index=genes)
    result = ad.AnnData(X=activity, obs=atac.obs.copy(), var=var)
    result.uns["gene_activity"] = {
        "source": "links",
        "layer": "X" if layer is None else layer,
        "peak_gene": table[~missing][["peak", "gene"]].reset_index(drop=True),
    }
    return result


def _summed_counts(
    counts: sparse.csr_matrix, peak_idx: np.ndarray, gene_idx: np.ndarray, n_genes: int
) -> sparse.csr_matrix:
    """Cells x genes sums of each gene's peaks: peak ``peak_idx[i]`` counts for ``gene_idx[i]``.

    The peaks x genes 0/1 matrix is in the counts' dtype widened to 32 bits, so sums are exact.
    """
    assignment = sparse.csr_matrix(
        (np.ones(len(peak_idx), dtype=_sum_dtype(counts.dtype)), (peak_idx, gene_idx)),
        shape=(counts.shape[1], n_genes),
    )
    activity = sparse.csr_matrix(counts @ assignment)
    activity.sort_indices()
    return activity


def _link_table(links: pd.DataFrame) -> pd.DataFrame:
    """The ``gene``/``peak`` columns of a link table as strings, without gaps or repeats."""
    if not isinstance(links, pd.DataFrame):
        raise TypeError(
            f"`links` must be a pandas DataFrame with columns 'gene' and 'peak', got "
            f"{type(links).__name__}."
        )
    if "gene" not in links.columns and links.index.name == "gene":
        links = links.reset_index()  # Cell Ranger's peak_annotation: genes in the index
    absent = [column for column in ("gene", "peak") if column not in links.columns]
    if absent:
        raise ValueError(
            f"`links` lacks column(s) {absent} (columns: {list(links.columns)}); it needs one "
            "row per link with the gene's name in 'gene' and the peak's name in 'peak'."
        )
    table = links[["gene", "peak"]].dropna()
    table = table.astype(str).drop_duplicates().reset_index(drop=True)
    if table.empty:
        raise ValueError("`links` has no row with both a gene and a peak.")
    return table


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """Return the counts' dtype widened to >= 32 bits, so sums cannot overflow (uint8)."""
    floor = np.int32 if np.issubdtype(dtype, np.integer) else np.float32
    return np.result_type(dtype, floor)


def _check_extension(upstream: int, downstream: int) -> None:
    """Reject flanks that are not non-negative integers (bases), before any work."""
    for name, value in (("upstream", upstream), ("downstream", downstream)):
        if not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"`{name}` must be a non-negative integer (bases), got {value!r}.")


def _counts_matrix(atac: ad.AnnData, layer: str | None) -> sparse.csr_matrix:
    """Return the counts as CSR (no copy when already CSR), after checking they are raw."""
    if layer is None:
        source, matrix = "`atac.X`", atac.X
    elif layer in atac.layers:
        source, matrix = f"`atac.layers[{layer!r}]`", atac.layers[layer]
    else:
        raise ValueError(
            f"`layer={layer!r}` is not a layer of `atac` (layers: {named_layers(atac)}). Pass "
            "one of them, or `layer=None` to use `atac.X`."
        )
    if matrix is None:
        raise ValueError(f"{source} is empty; pass `layer=` naming the raw peak counts.")
    matrix = sparse.csr_matrix(matrix) if not sparse.issparse(matrix) else matrix.tocsr()
    check_counts(
        matrix,
        source,
        "Gene activity sums raw peak counts: pass `layer=` naming the raw counts of `atac`.",
    )
    return matrix


def _gene_regions(
    genes: pd.DataFrame, upstream: int, downstream: int, gene_body: bool
) -> pd.DataFrame:
    """Region of each gene that a peak must overlap (see :func:`gene_activity`)."""
    start, end = genes["start"].to_numpy(), genes["end"].to_numpy()
    plus = (genes["strand"] == "+").to_numpy()
    minus = (genes["strand"] == "-").to_numpy()
    flank = max(upstream, downstream)
    if gene_body:
        plus_region = (start - upstream, end + downstream)
        minus_region = (start - downstream, end + upstream)
    else:
        plus_region = (start - upstream, start + 1 + downstream)
        minus_region = (end - 1 - downstream, end + upstream)
    unknown_region = (start - flank, end + flank)
    region_start = np.select([plus, minus], [plus_region[0], minus_region[0]], unknown_region[0])
    region_end = np.select([plus, minus], [plus_region[1], minus_region[1]], unknown_region[1])

    n_unknown = int((~plus & ~minus).sum())
    if n_unknown:
        logger.info(
            "%d of %d genes have no strand (e.g. Cell Ranger's TSS interval): their region is "
            "their interval extended by max(upstream, downstream) = %d bp on both sides.",
            n_unknown,
            len(genes),
            flank,
        )
    return pd.DataFrame(
        {
            "chrom": genes["chrom"].to_numpy(),
            "start": np.maximum(region_start, 0),
            "end": np.maximum(region_end, 0),
        }
    )


def _overlapping_pairs(peaks: pd.DataFrame, regions: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Positions of (peak, gene) pairs sharing >= 1 base, sorted by peak then gene."""
    hits = bioframe.overlap(
        peaks.reset_index(drop=True),
        regions.reset_index(drop=True),
        how="inner",
        return_input=False,
        return_index=True,
    )
    if hits.empty:
        raise ValueError(
            "No gene region overlaps any peak: check that `atac` and `genes` use the same "
            "genome assembly and chromosome names, or increase `upstream`/`downstream`."
        )
    pairs = np.unique(hits[["index", "index_"]].to_numpy(np.int64), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _output_var(genes: pd.DataFrame, regions: pd.DataFrame, n_peaks: np.ndarray) -> pd.DataFrame:
    """The genes' table plus the region each was matched on and its number of peaks."""
    var = genes.copy()
    var["region_start"] = regions["start"].to_numpy()
    var["region_end"] = regions["end"].to_numpy()
    var["n_peaks"] = n_peaks
    return var
