"""Issue 11's quality targets for our paired model, checked on every labelled paired set.

Per data set with shipped labels (the Multiome subset's marker-gene labels do not count):

- coarse labels: our worst seed's Leiden ARI >= the best peer's mean Leiden ARI;
- CBMC and PBMC10x only: every seed's coarse Leiden ARI >= a fixed floor (0.95 and 0.90, set
  by the issue beside the published scMDCF's 0.995 on CBMC and totalVI's 0.852 on PBMC10x);
- fine labels, where the set has them: our mean Leiden ARI >= the best peer's mean - 0.02;
- sets with batches: our scib-metrics total >= that of the scvi-tools peer (totalVI, MultiVI);
- our mean training time <= 0.5 x the scvi-tools peer's mean training time at its defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from scvi_contrastive.benchmark.aggregate import MethodSummary
from scvi_contrastive.benchmark.scoring import FINE_SUFFIX

#: The scvi-tools peers whose batch correction and training time we compare against.
SCVI_PEERS = ("TOTALVI", "MULTIVI")
#: How far below the best peer our mean fine-label Leiden ARI may fall.
FINE_MARGIN = 0.02
#: Our training time may be at most this fraction of the scvi-tools peer's.
TIME_FRACTION = 0.5
SCIB_TOTAL = "Total"
#: Issue 11's fixed floors: the coarse Leiden ARI every seed must reach on these two sets.
EVERY_SEED_FLOOR = {"cbmc_cite": 0.95, "pbmc10x_cite": 0.90}


@dataclass(frozen=True)
class Target:
    """One target on one data set.

    Attributes
    ----------
    dataset
        Data set name.
    goal
        What is required, in words.
    ours
        Our figure (``None`` when not measured).
    reference
        The figure ours must reach (``None`` when not measured).
    reference_from
        Where the reference comes from (``"WNN mean"``, ...).
    met
        Whether the target is met; ``None`` when it could not be checked (see ``note``).
    note
        Why it could not be checked.

    """

    dataset: str
    goal: str
    ours: float | None
    reference: float | None
    reference_from: str
    met: bool | None
    note: str = ""


def applies(entry: dict) -> bool:
    """Whether the targets apply: a paired set with shipped labels."""
    return bool(entry["paired"] and entry.get("label_columns"))


def dataset_targets(entry: dict, summaries: list[MethodSummary], ours: str) -> list[Target]:
    """Check every target that applies to one data set.

    Parameters
    ----------
    entry
        The data set's report entry (``name``, ``n_fine_labels``, ``batch_key``, ``scib``,
        ``methods`` with each row's ``max_epochs_cap`` and ``quick``).
    summaries
        Every method's rows aggregated over seeds.
    ours
        Our model's name.

    Returns
    -------
    The targets, in the order of the module docstring.

    """
    by_name = {s.method: s for s in summaries if s.ok}
    mine = by_name.get(ours)
    peers = [s for name, s in by_name.items() if name != ours]
    name = entry["name"]
    targets = [_best_peer(name, "leiden_ari", mine, peers, worst=True, margin=0.0)]
    if name in EVERY_SEED_FLOOR:
        targets.append(_every_seed_floor(name, mine, EVERY_SEED_FLOOR[name]))
    if entry.get("n_fine_labels"):
        key = f"leiden_ari{FINE_SUFFIX}"
        targets.append(_best_peer(name, key, mine, peers, worst=False, margin=FINE_MARGIN))
    scvi_peer = next((p for p in SCVI_PEERS if p in by_name), None)
    if entry.get("batch_key"):
        targets.append(_scib_total(entry, ours if mine else None, scvi_peer))
    targets.append(_training_time(entry, mine, by_name.get(scvi_peer)))
    return targets


def _best_peer(dataset, key, mine, peers, worst: bool, margin: float) -> Target:
    level = "fine" if key.endswith(FINE_SUFFIX) else "coarse"
    figure = "worst seed" if worst else "mean"
    goal = f"Leiden ARI ({level}): ours {figure} >= best peer mean" + (
        f" - {margin}" if margin else ""
    )
    scored = [p for p in peers if p.get(key) is not None]
    best = max(scored, key=lambda p: p.get(key).mean, default=None)
    stats = None if mine is None else mine.get(key)
    value = None if stats is None else (stats.worst if worst else stats.mean)
    if best is None or value is None:
        return Target(dataset, goal, value, None, "-", None, _missing(value, best, "peer"))
    reference = best.get(key).mean - margin
    return Target(dataset, goal, value, reference, f"{best.method} mean", value >= reference)


def _every_seed_floor(dataset: str, mine, floor: float) -> Target:
    goal = f"Leiden ARI (coarse): ours worst seed >= {floor:.2f}"
    stats = None if mine is None else mine.get("leiden_ari")
    if stats is None:
        return Target(dataset, goal, None, floor, "issue 11", None, _missing(None, floor, ""))
    return Target(dataset, goal, stats.worst, floor, "issue 11", stats.worst >= floor)


def _scib_total(entry: dict, ours: str | None, peer: str | None) -> Target:
    goal = "scib-metrics total >= the scvi-tools peer's"
    table = (entry.get("scib") or {}).get("table", {})
    mine = table.get(ours, {}).get(SCIB_TOTAL) if ours else None
    theirs = table.get(peer, {}).get(SCIB_TOTAL) if peer else None
    if mine is None or theirs is None:
        note = "no scib-metrics total for " + " and ".join(
            n for n, v in (("ours", mine), ("totalVI/MultiVI", theirs)) if v is None
        )
        return Target(entry["name"], goal, mine, theirs, peer or "-", None, note)
    return Target(entry["name"], goal, mine, theirs, peer, mine >= theirs)


def _training_time(entry: dict, mine, peer) -> Target:
    goal = f"training time: ours mean <= {TIME_FRACTION} x scvi-tools peer mean (defaults)"
    ours_s, theirs = _mean_time(mine), _mean_time(peer)
    if ours_s is None or theirs is None:
        note = _missing(ours_s, theirs, "totalVI/MultiVI")
        return Target(entry["name"], goal, ours_s, None, "-", None, note)
    capped = [s.method for s in (mine, peer) if not _at_defaults(entry, s.method)]
    reference = TIME_FRACTION * theirs
    source = f"{TIME_FRACTION} x {peer.method} mean"
    if capped:
        note = f"{' and '.join(capped)} ran with an epoch cap or --quick, not at defaults"
        return Target(entry["name"], goal, ours_s, reference, source, None, note)
    return Target(entry["name"], goal, ours_s, reference, source, ours_s <= reference)


def _mean_time(summary: MethodSummary | None) -> float | None:
    stats = None if summary is None else summary.get("train_time_s")
    return None if stats is None else stats.mean


def _at_defaults(entry: dict, method: str) -> bool:
    """Whether every row of ``method`` trained without an epoch cap and not in quick mode."""
    rows = [r for r in entry["methods"] if r["method"] == method]
    return all(r.get("max_epochs_cap") is None and not r.get("quick") for r in rows)


def _missing(mine, other, other_name: str) -> str:
    """Which of the two compared figures is missing."""
    missing = [n for n, v in (("ours", mine), (other_name, other)) if v is None]
    return "no result for " + " and ".join(missing) if missing else ""
