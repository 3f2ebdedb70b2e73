"""The wheel that `pip install .` builds carries the default model and the resources, and no tests.

The wheel is built from a copy of the working tree (so the shared checkout gets no build/ or
egg-info litter), without build isolation (no network needed: setuptools and wheel are in the venv).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", "corpus", ".cache", "out"}


def _copy_source(dest: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_DIRS or n.endswith((".egg-info", ".pyc"))}

    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    work = tmp_path_factory.mktemp("wheel-build")
    source, out = work / "src", work / "dist"
    _copy_source(source)
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"while building the wheel from {source}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    wheels = list(out.glob("songsim_desktop-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as zf:
        yield zf


def test_the_default_model_ships_inside_the_package(wheel):
    names = set(wheel.namelist())
    # The .pt holds the weights that fine-tuning (the [train] extra) continues from.
    for name in ("songsim-default.onnx", "songsim-default.json", "songsim-default.pt", "MODEL_CARD.md"):
        assert f"songsim_desktop/models/{name}" in names, f"{name} is missing from the wheel"
    # Byte for byte: the model id is the sha256 of the file, so a changed copy would be another model.
    shipped = wheel.read("songsim_desktop/models/songsim-default.onnx")
    assert shipped == (REPO / "models" / "songsim-default.onnx").read_bytes()


def test_every_resource_ships(wheel):
    resources = [p for p in (REPO / "resources").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert resources, "resources/ is empty: the app icon (resources/songsim.svg) should be there"
    names = set(wheel.namelist())
    for path in resources:
        name = "songsim_desktop/resources/" + path.relative_to(REPO / "resources").as_posix()
        assert name in names, f"{name} is missing from the wheel"


def test_every_code_package_ships_and_no_tests_or_caches(wheel):
    names = wheel.namelist()
    packages = [p.parent for p in (REPO / "songsim_desktop").rglob("__init__.py")]
    for package in packages:
        name = package.relative_to(REPO).as_posix() + "/__init__.py"
        assert name in names, f"package {name} is missing from the wheel (setup.py finds packages)"
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n or "conftest" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    top_levels = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_levels == {"songsim_desktop"}, top_levels


def test_the_console_and_gui_scripts_are_declared(wheel):
    entry = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry).decode())
    assert parser["console_scripts"]["songsim"].strip() == "songsim_desktop.cli:main"
    assert parser["gui_scripts"]["songsim-desktop"].strip() == "songsim_desktop.ui.app:main"


def test_the_installed_package_finds_its_own_model_not_the_repos(wheel, tmp_path):
    """paths.default_model_path() must resolve inside the installed package, not a source checkout."""
    site = tmp_path / "site"
    wheel.extractall(site)
    probe = ("from songsim_desktop import paths; "
             "print(paths.default_model_path()); print(paths.resources_dir())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(site)}, timeout=60)
    assert done.returncode == 0, done.stderr
    model, resources = (Path(line) for line in done.stdout.splitlines())
    assert model == site / "songsim_desktop" / "models" / "songsim-default.onnx"
    assert model.is_file()
    assert resources == site / "songsim_desktop" / "resources"
