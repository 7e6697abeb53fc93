"""Every Python block of the README runs as written, in order, with one epoch per ``train()``."""

import re
from pathlib import Path

import pytest

from scvi_contrastive.model import BICLUM, SCMDCF

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: First line of a block that cannot run here (it names what it needs).
NOT_RUN = "# Needs 4 GPUs"


def _blocks() -> list[str]:
    return BLOCK.findall(README.read_text())


def _one_epoch(train):
    def train_one_epoch(self, *args, **kwargs):
        return train(self, *args, **{**kwargs, "max_epochs": 1, "enable_progress_bar": False})

    return train_one_epoch


def test_the_readme_has_its_python_blocks():
    blocks = _blocks()
    assert len(blocks) >= 4
    assert [b.splitlines()[0] for b in blocks if b.startswith(NOT_RUN)] == [
        f"{NOT_RUN}: the one README block its test (tests/test_readme.py) does not run."
    ]


@pytest.mark.slow
def test_readme_python_blocks_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the blocks write model folders; data come from the env var
    for cls in (SCMDCF, BICLUM):
        monkeypatch.setattr(cls, "train", _one_epoch(cls.train))
    namespace = {}
    for block in _blocks():
        if not block.startswith(NOT_RUN):
            exec(compile(block, str(README), "exec"), namespace)
    assert namespace["query_latent"].shape[0] == 1000
    assert set(namespace["pred"].columns) == {"predicted", "confidence"}
