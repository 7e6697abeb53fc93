"""What every peer adapter shares: run settings and the reasons a method may not run."""

from __future__ import annotations

from dataclasses import dataclass

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.result import (
    SetupTime,
    TrainingCost,
    measure_setup,
    measure_training,
)

#: ``setup_mudata``'s layer argument of each non-RNA modality.
LAYER_ARG = {"prot": "protein_layer", "atac": "atac_layer"}


@dataclass(frozen=True)
class RunSettings:
    """Settings the runner passes to every adapter.

    Attributes
    ----------
    seed
        Random seed for the method.
    max_epochs
        Cap on training epochs; ``None`` lets each method use its own recommended default.
    quick
        Smoke-test mode: adapters cut their training to a few epochs.
    accelerator
        Lightning accelerator for scvi-tools models (``"auto"``, ``"cpu"``, ``"gpu"``).
    progress
        Show scvi-tools' progress bar while a model trains.

    """

    seed: int = 0
    max_epochs: int | None = None
    quick: bool = False
    accelerator: str = "auto"
    progress: bool = False

    def epochs(self, default: int | None, quick: int = 5) -> int | None:
        """Epochs to train: ``max_epochs`` if set, a few in quick mode, else ``default``."""
        if self.max_epochs is not None:
            return self.max_epochs
        return quick if self.quick else default


class MethodNotApplicable(Exception):
    """The method cannot run on this kind of data set (e.g. totalVI without protein)."""


class MethodNotAvailable(Exception):
    """The method's code is not there yet (e.g. one of our models still being written)."""


def require(dataset: BenchmarkDataset, paired: bool, other: str | tuple[str, ...]) -> None:
    """Raise :class:`MethodNotApplicable` unless ``dataset`` has this pairing and modality."""
    others = (other,) if isinstance(other, str) else other
    if dataset.paired != paired:
        kind = "paired" if paired else "unpaired"
        raise MethodNotApplicable(f"needs {kind} data")
    if dataset.other not in others:
        raise MethodNotApplicable(f"needs RNA + {' or '.join(others)}, got RNA + {dataset.other}")


def set_up_measured(
    model_cls, mdata, other: str, setup_kwargs: dict | None = None, **model_kwargs
) -> tuple[object, SetupTime]:
    """Register the raw counts of RNA and ``other`` and build the model, timing both.

    ``setup_kwargs`` go to ``model_cls.setup_mudata`` (e.g. ``batch_key``), ``model_kwargs``
    to the constructor. The time is the row's setup time (:func:`measure_setup`).
    """
    layer_arg = LAYER_ARG[other]
    with measure_setup() as setup:
        model_cls.setup_mudata(
            mdata,
            rna_layer="counts",
            **{layer_arg: "counts"},
            modalities={"rna_layer": "rna", layer_arg: other},
            **(setup_kwargs or {}),
        )
        model = model_cls(mdata, **model_kwargs)
    return model, setup


def train_measured(
    model, settings: RunSettings, max_epochs: int | None, **train_kwargs
) -> TrainingCost:
    """Train an scvi-tools model on the run's accelerator, measuring time and peak memory.

    ``max_epochs=None`` leaves the model's own default; ``train_kwargs`` go to ``train``.
    """
    with measure_training() as cost:
        model.train(
            max_epochs=max_epochs,
            accelerator=settings.accelerator,
            enable_progress_bar=settings.progress,
            **train_kwargs,
        )
    return cost
