"""Developer sessions, run in the active environment (`pip install -e ".[dev]"` first)."""

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
