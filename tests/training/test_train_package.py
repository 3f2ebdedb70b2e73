"""The training package is reachable without importing torch until training really starts."""

from __future__ import annotations

import subprocess
import sys

import importlib.util

import pytest

import songsim_desktop.training as training

_real_find_spec = importlib.util.find_spec


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_the_package_and_its_config_does_not_import_torch():
    done = run_python(
        "import sys, songsim_desktop.training as t\n"
        "from songsim_desktop.training.config import TrainConfig\n"
        "TrainConfig().validate(); assert t.available()\n"
        "assert 'torch' not in sys.modules and 'torchaudio' not in sys.modules, 'torch imported'\n"
        "t.train  # the lazy accessor imports the loop (and torch) only now\n"
        "assert 'torch' in sys.modules\n")
    assert done.returncode == 0, done.stderr


def test_lazy_accessors_reach_the_real_objects():
    from songsim_desktop.training.loop import train
    from songsim_desktop.training.model import Branch

    assert training.train is train and training.Branch is Branch
    assert training.TrainConfig().loss == "contrastive"


def test_without_torch_the_accessors_say_how_to_install(monkeypatch):
    from songsim_desktop.errors import TrainingUnavailable

    monkeypatch.setattr(training.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else _real_find_spec(name, *a))
    assert training.available() is False
    with pytest.raises(TrainingUnavailable, match="pip install"):
        training.export_branch  # noqa: B018 - the attribute access is what is tested
