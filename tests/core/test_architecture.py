"""The core imports neither Qt nor torch nor training; the training package reaches torch only lazily.

This is the run-time side (what importing really loads); the static layer contracts are
import-linter's, in pyproject.toml, run by tests/test_import_contracts.py.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import songsim_desktop.core

REPO = Path(__file__).resolve().parents[2]
CORE_MODULES = sorted(f"songsim_desktop.core.{m.name}" for m in pkgutil.iter_modules(songsim_desktop.core.__path__))

PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio', 'PySide6', 'shiboken6')
               or m.startswith('songsim_desktop.training') or m.startswith('songsim_desktop.ui'))
print(','.join(heavy))
"""


def imported_heavy(*modules: str) -> list[str]:
    """Heavy packages that importing ``modules`` pulls in, measured in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    return [m for m in done.stdout.strip().split(",") if m]


def test_the_core_modules_are_all_probed():
    # the list is discovered, not hard-coded: a new core module is checked automatically
    assert {"songsim_desktop.core.service", "songsim_desktop.core.jobs", "songsim_desktop.core.scan"} <= set(CORE_MODULES)


def test_no_core_module_imports_torch_or_qt():
    assert imported_heavy(*CORE_MODULES) == []


def test_the_cli_imports_neither_torch_nor_qt():
    # the training entry point only (its loss names, its lazy fine_tune): no torch until a fine-tune
    entry_point = ["songsim_desktop.training", "songsim_desktop.training.config"]
    assert imported_heavy("songsim_desktop.cli", "songsim_desktop.core.service") == entry_point


def test_importing_the_training_package_does_not_import_torch():
    loaded = imported_heavy("songsim_desktop.training", "songsim_desktop.training.config")
    assert loaded == ["songsim_desktop.training", "songsim_desktop.training.config"]  # no torch, no loop


def test_the_probe_would_notice_a_heavy_import():
    # guards against a probe that can never fail (PySide6's package: cheaper to import than torch)
    assert "PySide6" in imported_heavy("PySide6")
