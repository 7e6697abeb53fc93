"""Aggregate a method's rows over seeds: mean, standard deviation and the worst seed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scvi_contrastive.benchmark.result import OK
from scvi_contrastive.benchmark.scoring import LOWER_IS_BETTER

#: Record fields aggregated besides the scores; for these (costs) the worst seed is the largest.
COST_FIELDS = (
    "train_time_s",
    "setup_time_s",
    "time_per_epoch_s",
    "wall_time_s",
    "peak_memory_mb",
    "n_epochs",
)


@dataclass(frozen=True)
class SeedStats:
    """One figure over the seeds a method ran with.

    Attributes
    ----------
    mean
        Mean over seeds.
    sd
        Sample standard deviation (``ddof=1``); NaN with a single seed.
    worst
        The worst seed's value: the smallest score, or the largest for costs and for the
        scores where lower is better (:data:`~.scoring.LOWER_IS_BETTER`).
    n
        Seeds with a finite value.

    """

    mean: float
    sd: float
    worst: float
    n: int


def seed_stats(values: list, lower_is_better: bool = False) -> SeedStats | None:
    """Mean, sample SD and worst of the finite ``values``; ``None`` when there are none."""
    finite = [float(v) for v in values if _is_number(v) and math.isfinite(v)]
    if not finite:
        return None
    array = np.asarray(finite)
    sd = float(array.std(ddof=1)) if array.size > 1 else float("nan")
    worst = float(array.max() if lower_is_better else array.min())
    return SeedStats(float(array.mean()), sd, worst, array.size)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class MethodSummary:
    """A method's rows on one data set, over seeds.

    Attributes
    ----------
    method
        Method name.
    seeds
        Seeds it has a row for, in order.
    failures
        Seed -> status of the rows that did not produce a result.
    device
        Where the first successful row trained.
    stats
        Field or score name -> :class:`SeedStats` over the rows that did.

    """

    method: str
    seeds: list[int] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)
    device: str = ""
    stats: dict[str, SeedStats] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether at least one seed produced a result."""
        return len(self.failures) < len(self.seeds)

    @property
    def status(self) -> str:
        """``"ok"``, or how many seeds failed and why."""
        if not self.failures:
            return OK
        reasons = "; ".join(f"seed {s}: {why}" for s, why in self.failures.items())
        n_ok = len(self.seeds) - len(self.failures)
        return f"ok on {n_ok}/{len(self.seeds)} seeds; {reasons}" if n_ok else reasons

    def get(self, name: str) -> SeedStats | None:
        """Statistics of a field or score, or ``None`` when no seed has it."""
        return self.stats.get(name)


def summarize_methods(records: list[dict]) -> list[MethodSummary]:
    """Group rows by method (in order of first appearance) and aggregate them over seeds.

    Parameters
    ----------
    records
        Rows as the runner writes them: ``method``, ``seed``, ``status``, the cost fields of
        :data:`COST_FIELDS` and ``scores`` (name -> value).

    Returns
    -------
    One :class:`MethodSummary` per method.

    """
    by_method: dict[str, list[dict]] = {}
    for record in records:
        by_method.setdefault(record["method"], []).append(record)
    return [_summarize(method, rows) for method, rows in by_method.items()]


def _value(row: dict, name: str):
    """A cost field of the row, or one of its scores."""
    return row.get(name) if name in COST_FIELDS else row.get("scores", {}).get(name)


def _summarize(method: str, rows: list[dict]) -> MethodSummary:
    summary = MethodSummary(method, seeds=[row.get("seed", 0) for row in rows])
    ok_rows = []
    for row in rows:
        if row["status"] == OK:
            ok_rows.append(row)
        else:
            summary.failures[row.get("seed", 0)] = row["status"]
    if ok_rows:
        summary.device = ok_rows[0].get("device") or ""
    names = list(COST_FIELDS) + list(
        dict.fromkeys(k for row in ok_rows for k in row.get("scores", {}))
    )
    for name in names:
        values = [_value(row, name) for row in ok_rows]
        lower = name in COST_FIELDS or name in LOWER_IS_BETTER
        stats = seed_stats(values, lower_is_better=lower)
        if stats is not None:
            summary.stats[name] = stats
    return summary
