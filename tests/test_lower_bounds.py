"""``nox -s lowest`` pins every runtime dependency of pyproject.toml at its lower bound."""

import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _noxfile():
    spec = importlib.util.spec_from_file_location("noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_runtime_dependency_is_pinned_at_its_lower_bound():
    pins = _noxfile().lower_bound_pins(ROOT / "pyproject.toml")
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [pin.replace("==", ">=") for pin in pins] == dependencies


@pytest.mark.parametrize("requirement", ["pandas", "pandas<3", "pandas>=2,<3"])
def test_a_dependency_without_a_single_lower_bound_is_refused(tmp_path, requirement):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'[project]\ndependencies = ["numpy>=2", "{requirement}"]\n')
    with pytest.raises(ValueError, match="pandas"):
        _noxfile().lower_bound_pins(pyproject)
