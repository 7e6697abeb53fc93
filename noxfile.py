"""Developer sessions.

All but ``lowest`` run in the active environment (``pip install -e ".[dev]"`` first);
``lowest`` builds its own, with every runtime dependency at its lower bound.
"""

import re
import tomllib
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(venv_backend="none")
def demo(session: nox.Session) -> None:
    session.run("python", "-m", "scvi_contrastive", "demo", *session.posargs)


@nox.session(venv_backend="none")
def tutorials(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "tests/test_tutorials.py", *session.posargs)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    args = session.posargs or ["--quick", "--out", "results/bench-quick"]
    session.run("python", "-m", "scvi_contrastive.benchmark", *args)


@nox.session(venv_backend="none")
def scaling(session: nox.Session) -> None:
    args = session.posargs or ["--quick", "--out", "results/scaling-quick"]
    session.run("python", "-m", "scvi_contrastive.benchmark.scaling", *args)


def lower_bound_pins(pyproject: Path = Path("pyproject.toml")) -> list[str]:
    """``name==version`` for each runtime dependency's ``>=`` bound in ``pyproject``."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pins = []
    for requirement in dependencies:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)>=([^,;\s]+)", requirement)
        if match is None:
            raise ValueError(
                f"{requirement!r} in {pyproject} has no single lower bound: write it as "
                "`name>=version`, with the oldest version the tests pass with."
            )
        pins.append(f"{match[1]}=={match[2]}")
    return pins


@nox.session
def lowest(session: nox.Session) -> None:
    """The tests with every runtime dependency at its lower bound at once."""
    constraints = Path(session.create_tmp()) / "lower_bounds.txt"
    constraints.write_text("\n".join(lower_bound_pins()) + "\n")
    session.install("-e", ".[dev]", "-c", str(constraints))
    session.run("python", "-m", "pytest", *session.posargs)
