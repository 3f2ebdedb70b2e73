"""Package discovery for setuptools; everything else is declared in pyproject.toml.

Why a setup.py at all: pyproject.toml's ``packages.find`` cannot name a package whose folder lives
outside ``songsim_desktop/``.  The default model (``models/``) and the icons (``resources/``) stay at
the repo's top level, where the model script and the GUI expect them, and are shipped inside the wheel
as the data-only packages ``songsim_desktop.models`` and ``songsim_desktop.resources`` (mapped in
pyproject.toml's ``[tool.setuptools.package-dir]``).
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def _data_packages(top: str) -> list[str]:
    """``songsim_desktop.<top>`` and one package per sub-folder, so nested resources are not dropped."""
    base = HERE / top
    names = [f"songsim_desktop.{top}"]
    if base.is_dir():
        for sub in sorted(p for p in base.rglob("*") if p.is_dir() and p.name != "__pycache__"):
            names.append(".".join(["songsim_desktop", top, *sub.relative_to(base).parts]))
    return names


setup(
    packages=find_packages(include=["songsim_desktop", "songsim_desktop.*"])
    + _data_packages("models")
    + _data_packages("resources"),
)
