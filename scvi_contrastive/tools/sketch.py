"""A random sketch of the cells: a fixed-size subsample that stands in for a large set.

Work whose cost grows faster than the number of cells (a PCA's correlation matrix, an exact
neighbour search) is done on the sketch, and every cell is then placed with what it gave (the
PCA's loadings, the anchors among the sketched cells), so that the cost stops growing with the
cells. Sets no larger than the sketch are used whole, so small data give exactly what they give
without one.
"""

from __future__ import annotations

import numpy as np


def random_sketch(n_cells: int, max_cells: int | None, random_state: int = 0) -> np.ndarray:
    """Rows of a uniform random subsample of at most ``max_cells`` of ``n_cells`` cells.

    A uniform sample keeps the cell states in their proportions: a state holding 0.1 % of the
    cells still has about 20 cells in a sketch of 20,000.

    Parameters
    ----------
    n_cells
        Number of cells of the set.
    max_cells
        Size of the sketch; ``None``: every cell.
    random_state
        Seed of the subsample.

    Returns
    -------
    Sorted row indices: ``np.arange(n_cells)`` when ``n_cells <= max_cells``, else
    ``max_cells`` rows drawn without replacement.
    """
    if max_cells is not None and max_cells < 1:
        raise ValueError(f"`max_cells` must be at least 1 or None, got {max_cells}.")
    if max_cells is None or n_cells <= max_cells:
        return np.arange(n_cells)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_cells, size=max_cells, replace=False))


def sketch_rows(rows: np.ndarray, max_cells: int | None, random_state: int = 0) -> np.ndarray:
    """A :func:`random_sketch` of the cells at ``rows`` (e.g. the training cells), sorted.

    Sorted rows let backed (on-disk) matrices be read in one forward pass.

    Parameters
    ----------
    rows
        Row indices of the cells to draw from.
    max_cells
        Size of the sketch; ``None``: every cell.
    random_state
        Seed of the subsample.
    """
    rows = np.asarray(rows)
    return np.sort(rows[random_sketch(rows.size, max_cells, random_state)])
