"""Share trained models through scvi-hub (Hugging Face): metadata, model card, push.

scvi-tools' :class:`~scvi.hub.HubModel` loads any model class named in its metadata from the
module named there, so this package's models load once the metadata says
``model_parent_module="scvi_contrastive.model"``. Its :class:`~scvi.hub.HubModelCardHelper`,
however, only writes cards for scvi-tools' own models (any other class name raises
``ValueError``); :class:`ContrastiveModelCardHelper` is the same helper with a card written for
any model class.

Typical use::

    hub_model = make_hub_model(model, "my_model/", metrics={"knn_accuracy": 0.97})
    hub_model.model  # the model, reloaded from the folder
    push_to_huggingface_hub(hub_model, "user/my-model", repo_token="hf_...")  # needs network
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlparse

import scvi
from mudata import MuData
from scvi.model.base import BaseModelClass

from ._constants import LAYER_ARGS, REGISTRY_KEYS
from .data.safe_loading import safe_model_loading

try:
    from huggingface_hub import ModelCard, ModelCardData
    from scvi.hub import HubMetadata, HubModel, HubModelCardHelper
except ImportError as error:  # scvi-hub is an optional part of scvi-tools
    raise ImportError(
        "scvi_contrastive.hub needs the Hugging Face Hub client: pip install 'scvi-tools[hub]'."
    ) from error

#: Module from which scvi-hub imports this package's model classes.
MODEL_PARENT_MODULE = "scvi_contrastive.model"
#: Name of the file holding the metrics shown on the card (read by scvi's ``from_dir``).
METRICS_FILE_NAME = "metrics.json"
#: Modality each ``setup_mudata`` layer argument registers, for the card's modality tags.
_LAYER_MODALITIES = {arg: modality for modality, arg in LAYER_ARGS.items()}
_NOT_PROVIDED = "Not provided by uploader"
#: scvi-tools before 1.5 uploads the model folder only when ``push_anndata=False``.
_UPLOADS_FOLDER_WITH_DATA = (1, 5)

_CARD_TEMPLATE = """---
{card_data}
---

# {model_cls_name} (scvi-contrastive)

{pretext}

{description}

## Loading the model

The class is imported from `{model_parent_module}`, so install `scvi-contrastive` first.

```python
from scvi.hub import HubModel

hub_model = HubModel.pull_from_huggingface_hub("<user>/<repo>", revision="main")
model = hub_model.model  # with the training data, when it was uploaded
latent = model.get_latent_representation()
```

New cells from unseen batches are mapped with
`{model_cls_name}.load_query_data(query, model)` (scArches), then `train()` on the query.

## Training data

{training_data}

Training data URL: {training_data_url}

## Model

Modalities: {modalities}

Initialisation parameters:

```json
{model_init_params}
```

Setup arguments:

```json
{model_setup_args}
```

Registry summary:

{model_summary_stats}

## Metrics

{metrics}

## Code and references

Training code: {training_code_url}

{references}
"""


@dataclass
class ContrastiveModelCardHelper(HubModelCardHelper):
    """:class:`~scvi.hub.HubModelCardHelper` that writes a card for any model class.

    Takes the same arguments (and has the same ``from_dir``) as scvi's helper, plus
    ``training_data_summary``; ``model_parent_module`` defaults to this package's models.
    The card holds the model's modalities (as ``modality:`` tags too), a summary of the
    training data, the initialisation and setup arguments, the registry's summary statistics,
    the metrics (``metrics.json`` in the model folder, as scvi reads it) and how to load the
    model.

    Parameters
    ----------
    model_parent_module
        Module the model class is imported from; this package's by default.
    training_data_summary
        Rows ``{"what": "value"}`` describing the training data (see
        :func:`training_data_summary`); when ``None`` the card shows the registry summary only.
    """

    model_parent_module: str = MODEL_PARENT_MODULE
    training_data_summary: dict[str, str] | None = None

    def __post_init__(self):
        # scvi's __post_init__ builds the card from a table of its own model classes only.
        for url in (self.training_data_url, self.training_code_url):
            if url is not None:
                _check_url(url)
        if not self.data_modalities:
            self.data_modalities = _modalities_from_setup_args(self.model_setup_anndata_args)
        self.model_card = self._render()

    def _render(self) -> ModelCard:
        tags = ["biology", "genomics", "single-cell", "scvi-contrastive"]
        tags += [
            f"model_cls_name:{self.model_cls_name}",
            f"scvi_version:{self.scvi_version}",
            f"anndata_version:{self.anndata_version}",
        ]
        tags += [f"modality:{m}" for m in self.data_modalities]
        tags += [f"tissue:{t}" for t in self.tissues]
        if self.data_is_annotated is not None:
            tags.append(f"annotated:{self.data_is_annotated}")
        card_data = ModelCardData(license=self.license_info, library_name="scvi-tools", tags=tags)
        content = _CARD_TEMPLATE.format(
            card_data=card_data.to_yaml(),
            model_cls_name=self.model_cls_name,
            pretext=_class_summary(self.model_parent_module, self.model_cls_name),
            description=self.description,
            model_parent_module=self.model_parent_module,
            training_data=_markdown_table(self.training_data_summary or {}, "Training data"),
            training_data_url=self.training_data_url or _NOT_PROVIDED,
            modalities=", ".join(self.data_modalities) or _NOT_PROVIDED,
            model_init_params=json.dumps(_flatten_init_params(self.model_init_params), indent=4),
            model_setup_args=json.dumps(self.model_setup_anndata_args, indent=4, default=str),
            model_summary_stats=_markdown_table(self.model_summary_stats, "Statistic"),
            metrics=_markdown_table(self.metrics_report, "Metric")
            if self.metrics_report
            else _NOT_PROVIDED,
            training_code_url=self.training_code_url or _NOT_PROVIDED,
            references=self.references,
        )
        return ModelCard(content)


def make_hub_model(
    model: BaseModelClass,
    local_dir: str | os.PathLike,
    *,
    license_info: str = "cc-by-4.0",
    description: str | None = None,
    references: str | None = None,
    tissues: list[str] | None = None,
    labels_key: str | None = None,
    metrics: dict[str, float | str] | None = None,
    training_data_url: str | None = None,
    training_code_url: str | None = None,
    save_anndata: bool = True,
    overwrite: bool = False,
) -> HubModel:
    """Save a trained model with its scvi-hub metadata and model card.

    Writes ``model.pt`` (and the training data, ``mdata.h5mu`` or ``adata.h5ad``),
    ``metrics.json`` (if ``metrics``), ``_scvi_required_metadata.json`` and ``README.md`` (the
    model card) into ``local_dir``.

    Parameters
    ----------
    model
        A trained :class:`~scvi_contrastive.model.SCMDCF` or
        :class:`~scvi_contrastive.model.BICLUM` (any scvi-tools model works).
    local_dir
        Folder to write to.
    license_info
        Licence of the model (a Hugging Face licence identifier).
    description
        Free text shown under the model's summary on the card.
    references
        References shown on the card (e.g. the data set's publication).
    tissues
        Tissues of the training data (card tags).
    labels_key
        Column of ``model.adata.obs`` with cell labels, counted on the card (default: the
        setup's ``labels_key``, if any).
    metrics
        Metric name → value (e.g. label-transfer accuracy), saved to ``metrics.json`` and shown
        on the card.
    training_data_url
        Where the training data can be downloaded, when ``save_anndata=False``.
    training_code_url
        Where the code that trained the model is.
    save_anndata
        Save the training data with the model, so that ``HubModel(local_dir).model`` loads
        without further input.
    overwrite
        Overwrite an existing folder's files.

    Returns
    -------
    The :class:`~scvi.hub.HubModel`; ``.model`` reloads the model from ``local_dir``.
    Upload it with :func:`push_to_huggingface_hub`.
    """
    local_dir = Path(local_dir)
    model.save(str(local_dir), save_anndata=save_anndata, overwrite=overwrite)
    if metrics is not None:
        (local_dir / METRICS_FILE_NAME).write_text(json.dumps(metrics, indent=4))
    labels_key = labels_key or model.registry_["setup_args"].get("labels_key")
    with safe_model_loading():  # scvi's helpers read the model file just written
        metadata = HubMetadata.from_dir(
            str(local_dir),
            anndata_version=version("anndata"),
            model_parent_module=MODEL_PARENT_MODULE,
            training_data_url=training_data_url,
        )
        card = ContrastiveModelCardHelper.from_dir(
            str(local_dir),
            license_info=license_info,
            anndata_version=version("anndata"),
            model_parent_module=MODEL_PARENT_MODULE,
            description=description or _NOT_PROVIDED,
            references=references or "",
            tissues=list(tissues or []),
            data_is_annotated=labels_key is not None,
            training_data_url=training_data_url,
            training_code_url=training_code_url,
            training_data_summary=training_data_summary(model, labels_key),
        )
    hub_model = HubModel(str(local_dir), metadata=metadata, model_card=card)
    hub_model.save(overwrite=True)
    return hub_model


def push_to_huggingface_hub(
    hub_model: HubModel,
    repo_name: str,
    repo_token: str | None = None,
    *,
    repo_create: bool = False,
    push_anndata: bool = True,
    **kwargs,
) -> None:
    """Upload a hub model (card, metadata, model and data) to a Hugging Face model repository.

    Calls :meth:`scvi.hub.HubModel.push_to_huggingface_hub`. scvi-tools before 1.5 uploads the
    model folder only when ``push_anndata=False``; on those versions the folder is uploaded
    here too, so ``model.pt`` always reaches the repository. Needs the network and a token
    with write access.

    Parameters
    ----------
    hub_model
        From :func:`make_hub_model`.
    repo_name
        ``"<user or organisation>/<repository>"``.
    repo_token
        Hugging Face token, or a file holding one (``None``: the cached login or ``HF_TOKEN``).
    repo_create
        Create the repository first.
    push_anndata
        Upload the training data saved with the model.
    **kwargs
        Passed to :meth:`scvi.hub.HubModel.push_to_huggingface_hub`.
    """
    with warnings.catch_warnings():
        # scvi looks for a collection of scvi-tools' own models and warns that none fits.
        warnings.filterwarnings("ignore", message="No collection found", category=UserWarning)
        hub_model.push_to_huggingface_hub(
            repo_name, repo_token, repo_create=repo_create, push_anndata=push_anndata, **kwargs
        )
    scvi_version = tuple(int(part) for part in scvi.__version__.split(".")[:2])
    if push_anndata and scvi_version < _UPLOADS_FOLDER_WITH_DATA:
        from huggingface_hub import HfApi

        token = Path(repo_token).read_text() if _is_file(repo_token) else repo_token
        HfApi(token=token).upload_folder(folder_path=hub_model.local_dir, repo_id=repo_name)


def training_data_summary(model: BaseModelClass, labels_key: str | None = None) -> dict[str, str]:
    """Rows describing a model's training data, for its model card.

    Parameters
    ----------
    model
        A model holding its training data (``model.adata``).
    labels_key
        Column of ``obs`` with cell labels to count, if any.

    Returns
    -------
    ``{"what": "value"}``: cells, cells and features per modality, batch categories, labels.
    """
    adata = model.adata
    rows = {"cells": str(adata.n_obs)}
    if isinstance(adata, MuData):
        for name, modality in adata.mod.items():
            rows[f"modality {name!r}"] = f"{modality.n_obs} cells × {modality.n_vars} features"
    else:
        rows["features"] = str(adata.n_vars)
    batch_key = model.registry_["setup_args"].get("batch_key")
    if batch_key is not None:
        batches = model.adata_manager.get_state_registry(REGISTRY_KEYS.BATCH_KEY)
        rows[f"batches ({batch_key})"] = ", ".join(map(str, batches.categorical_mapping))
    if labels_key is not None and labels_key in adata.obs:
        counts = adata.obs[labels_key].value_counts(sort=False)
        rows[f"labels ({labels_key})"] = ", ".join(f"{k}: {v}" for k, v in counts.items())
    return rows


def _markdown_table(rows: dict, header: str) -> str:
    if not rows:
        return _NOT_PROVIDED
    lines = [f"| {header} | Value |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in rows.items()]
    return "\n".join(lines)


def _flatten_init_params(init_params: dict) -> dict:
    """``{"non_kwargs": {...}, "kwargs": {"module_kwargs": {...}}}`` as one flat dict."""
    flat = dict(init_params.get("non_kwargs", {}))
    for group in init_params.get("kwargs", {}).values():
        flat.update(group)
    return flat


def _modalities_from_setup_args(setup_args: dict) -> list[str]:
    modalities = setup_args.get("modalities") or {}
    return [name for arg, name in _LAYER_MODALITIES.items() if modalities.get(arg) is not None]


def _class_summary(module_name: str, class_name: str) -> str:
    """First paragraph of the model class's docstring, the card's lead."""
    try:
        model_cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        return f"A `{class_name}` model from `{module_name}`."
    return (inspect.getdoc(model_cls) or "").split("\n\n")[0].replace("\n", " ")


def _check_url(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https", "ftp", "s3") or not parsed.netloc:
        raise ValueError(f"Invalid URL: {url!r}.")


def _is_file(path: str | None) -> bool:
    return path is not None and os.path.isfile(path)
