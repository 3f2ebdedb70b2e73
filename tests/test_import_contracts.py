"""The layer contracts in pyproject.toml ([tool.importlinter]) hold: import-linter reads the source.

core imports neither the GUI nor training nor Qt nor torch; training imports no GUI; the GUI reaches
training only through the package's entry point.  tests/core/test_architecture.py checks the
run-time side (what importing a module really loads, lazy imports included).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))  # the songsim_desktop of this checkout
    return subprocess.run([str(LINT_IMPORTS), str(config), "--no-cache"], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


def test_the_layer_contracts_are_kept():
    done = lint_imports(REPO / "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_a_broken_contract_fails_the_check(tmp_path):
    # guards against a check that can never fail: the GUI does import core
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_package = "songsim_desktop"\n\n'
                      '[[tool.importlinter.contracts]]\nname = "probe"\ntype = "forbidden"\n'
                      'source_modules = ["songsim_desktop.ui"]\nforbidden_modules = ["songsim_desktop.core"]\n')
    done = lint_imports(config)
    assert done.returncode != 0 and "BROKEN" in done.stdout
