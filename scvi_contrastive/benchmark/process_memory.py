"""Resident memory of a process from Linux ``/proc``: now, peak, and a restartable peak."""

from __future__ import annotations

from pathlib import Path

from .result import _release_freed_memory


def memory_mb(field: str, pid: int | str = "self") -> float:
    """A memory figure of a process from Linux ``/proc`` (``VmHWM``: peak, ``VmRSS``: now)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def start_peak_window(release: bool = True) -> bool:
    """Restart this process's peak-memory count (``VmHWM``); False where Linux does not allow it.

    Called once the data set is built, so that the reported peak is the model's (with the data
    it holds), not the generator's temporary copies.

    Parameters
    ----------
    release
        First collect garbage and hand freed heap memory back to the system, so that what an
        earlier phase freed does not count; ``False`` starts the count from the memory as it is.
    """
    if release:
        _release_freed_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
