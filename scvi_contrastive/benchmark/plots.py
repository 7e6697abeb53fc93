"""Figures of a benchmark run: one UMAP per method, side by side."""

from __future__ import annotations

import logging
import os

import anndata as ad
import numpy as np
import scanpy as sc

from ..tools.clustering import neighbors_graph

logger = logging.getLogger(__name__)


def _umap(embedding: np.ndarray | None, connectivities, seed: int) -> np.ndarray:
    if connectivities is not None:
        view = ad.AnnData(obs={"i": np.arange(connectivities.shape[0])})
        view.obsp["connectivities"] = connectivities
        view.obsp["distances"] = connectivities
        view.uns["neighbors"] = {
            "connectivities_key": "connectivities",
            "distances_key": "distances",
            "params": {"method": "umap", "n_neighbors": 15},
        }
    else:
        view = neighbors_graph(embedding, n_neighbors=15, seed=seed)
    sc.tl.umap(view, random_state=seed)
    return view.obsm["X_umap"]


def umap_panel(
    views: dict[str, tuple[np.ndarray | None, object]],
    colors: dict[str, np.ndarray],
    title: str,
    path: str | os.PathLike | None = None,
    seed: int = 0,
    panel_size: float = 3.2,
):
    """Plot one UMAP per method (columns), coloured by each of ``colors`` (rows).

    Parameters
    ----------
    views
        Method name -> ``(embedding, connectivities)``; one of the two may be ``None``. Rows
        with NaN in the embedding are left out of that method's plot.
    colors
        Colouring name (e.g. ``"cell_type"``, ``"modality"``) -> one category per cell.
    title
        Figure title.
    path
        Save the figure here (PNG) when given.
    seed
        Random state of neighbours and UMAP.
    panel_size
        Width and height of each panel, in inches.

    Returns
    -------
    The matplotlib figure.

    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols, n_rows = max(len(views), 1), max(len(colors), 1)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(panel_size * n_cols, panel_size * n_rows), squeeze=False
    )
    for col, (name, (embedding, connectivities)) in enumerate(views.items()):
        keep = np.ones(len(next(iter(colors.values()))), bool)
        if embedding is not None:
            keep = np.isfinite(embedding).all(axis=1)
            embedding = embedding[keep]
        coords = _umap(embedding, connectivities, seed)
        for row, (color_name, values) in enumerate(colors.items()):
            _scatter(axes[row, col], coords, np.asarray(values)[keep], f"{name}\n{color_name}")
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        logger.info("Saved %s", path)
    plt.close(fig)
    return fig


def _scatter(ax, coords: np.ndarray, values: np.ndarray, title: str) -> None:
    import matplotlib.pyplot as plt

    categories = np.unique(values.astype(str))
    cmap = plt.get_cmap("tab20" if len(categories) > 10 else "tab10")
    for i, category in enumerate(categories):
        mask = values.astype(str) == category
        ax.scatter(*coords[mask].T, s=2, color=cmap(i % cmap.N), label=category, rasterized=True)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(categories) <= 12:
        ax.legend(markerscale=4, fontsize=6, frameon=False, loc="best")
