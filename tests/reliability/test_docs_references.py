"""Every test that docs/reliability.md names as the proof of a row exists, parameters included."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
# `area::test[ids]` (tests/reliability/test_<area>.py) or `tests/....py::test[ids]`.
REFERENCE = re.compile(r"`((?:[\w/.]+)::)?(test_\w+)(?:\[([^\]]*)\])?`")


def _path(where: str) -> str:
    return where if where.startswith("tests/") else f"tests/reliability/test_{where}.py"


def _collected(paths: set[str]) -> dict[str, list[str]]:
    """Test id → its parameter ids, for the tests pytest collects from ``paths``."""
    lines = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", *sorted(paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    nodes: dict[str, list[str]] = {}
    for line in lines:
        if "::" in line:
            node, _, params = line.partition("[")
            nodes.setdefault(node, []).append(params.rstrip("]"))
    return nodes


def test_every_cited_test_is_collected():
    references = list(REFERENCE.finditer(DOC.read_text()))
    assert len(references) > 50, "docs/reliability.md should cite a test per row"
    unplaced = [ref.group(0) for ref in references if ref.group(1) is None]
    assert not unplaced, f"references without a file or area: {unplaced}"
    nodes = _collected({_path(ref.group(1)[:-2]) for ref in references})
    problems = []
    for ref in references:
        key = f"{_path(ref.group(1)[:-2])}::{ref.group(2)}"
        if key not in nodes:
            problems.append(f"{ref.group(0)}: {key} is not collected")
            continue
        for wanted in ref.group(3).split(", ") if ref.group(3) else []:
            if not any(f"-{wanted}-" in f"-{params}-" for params in nodes[key]):
                problems.append(f"{ref.group(0)}: no parameter id {wanted!r} in {key}")
    assert not problems, "\n".join(problems)
