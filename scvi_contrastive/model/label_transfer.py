"""Label transfer between two modalities by nearest neighbours in a shared latent space."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from mudata import MuData
from sklearn.neighbors import KNeighborsClassifier

from ._docstrings import getter_dsp


class LabelTransferMixin:
    """``transfer_labels`` of a model embedding two modalities' cells in one latent space.

    Needs the model's ``_layout()`` (modality names, source first by default), its
    ``_modality_rows(adata_manager)``, ``_check_own_obsm(adata, own_obsm, argument)`` and
    ``_embed(adata, modality, rows, batch_size, smooth_obsm)``, as
    :class:`~scvi_contrastive.model.BICLUM` has them.
    """

    @getter_dsp.dedent
    def transfer_labels(
        self,
        labels_key: str | None = None,
        source: str | None = None,
        k: int = 15,
        adata: AnnData | MuData | None = None,
        batch_size: int | None = None,
        smooth_obsm: dict[str, str] | None = None,
    ) -> pd.DataFrame:
        """Predict the other modality's labels from the source modality's by kNN in the latent.

        Parameters
        ----------
        labels_key
            Column of ``adata.obs`` with the labels of the source cells (default: the
            ``labels_key`` given at setup). Source cells with a missing label are skipped.
        source
            Modality whose cells carry the labels (default: the RNA modality).
        k
            Number of neighbours voting (cosine distance).
        %(param_adata)s
        %(param_batch_size)s
        %(param_smooth_obsm)s

        Returns
        -------
        DataFrame indexed by the target cells' obs names with ``predicted`` (label) and
        ``confidence`` (share of the ``k`` neighbours voting for it).
        """
        adata = self._validate_anndata(adata)
        self._check_own_obsm(adata, smooth_obsm, "smooth_obsm")
        names, _ = self._layout()
        source = names[0] if source is None else source
        if source not in names:
            raise ValueError(f"`source` must be one of {names}, got {source!r}.")
        target = names[1 - names.index(source)]
        labels_key = labels_key or self.registry_["setup_args"].get("labels_key")
        if labels_key is None or labels_key not in adata.obs:
            hint = (
                ""
                if labels_key is None
                else " mudata 0.4 and newer no longer copy a modality's columns into `mdata.obs`:"
                " add it, e.g. `mdata.obs['cell_type'] = mdata['rna'].obs['cell_type']`."
            )
            raise ValueError(
                f"`labels_key` must be a column of `adata.obs`, got {labels_key!r}.{hint}"
            )
        rows = self._modality_rows(self.get_anndata_manager(adata, required=True))
        labels = adata.obs[labels_key].to_numpy()[rows[source]]
        labelled = pd.notna(labels)
        if not labelled.any():
            raise ValueError(f"No {source!r} cell has a label in `adata.obs[{labels_key!r}]`.")
        z_source = self._embed(adata, source, rows[source], batch_size, smooth_obsm)[labelled]
        z_target = self._embed(adata, target, rows[target], batch_size, smooth_obsm)
        classifier = KNeighborsClassifier(n_neighbors=min(k, len(z_source)), metric="cosine")
        classifier.fit(z_source, labels[labelled].astype(str))
        probabilities = classifier.predict_proba(z_target)
        best = probabilities.argmax(axis=1)
        return pd.DataFrame(
            {
                "predicted": classifier.classes_[best],
                "confidence": probabilities[np.arange(len(best)), best],
            },
            index=pd.Index(np.asarray(adata.obs_names)[rows[target]], name="cell"),
        )
