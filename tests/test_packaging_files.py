"""The desktop integration files agree with the app, and install.sh / uninstall.sh do what they say.

The bundle itself takes minutes to build, so CI does not build it (packaging/check_bundle.sh does,
on demand); the install scripts are exercised here on a stand-in bundle with the same layout.
"""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import songsim_desktop

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
APP_ID = "io.github.songsim.Songsim"
LINUX = PACKAGING / "linux"
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_desktop_entry_launches_the_gui_script_with_our_icon():
    entry = _desktop_entry(LINUX / f"{APP_ID}.desktop")
    gui_scripts = _pyproject()["project"]["gui-scripts"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] in gui_scripts
    assert entry["Exec"].split()[1:] == ["%F"]  # files dropped on the launcher become the reference
    assert entry["Icon"] == APP_ID
    assert "AudioVideo" in entry["Categories"].split(";")


def test_icons_exist_in_every_size_and_match_the_svg():
    hicolor = LINUX / "icons" / "hicolor"
    for size in ICON_SIZES:
        assert _png_size(hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png") == (size, size)
    scalable = hicolor / "scalable" / "apps" / f"{APP_ID}.svg"
    assert scalable.read_bytes() == (REPO / "resources" / "songsim.svg").read_bytes(), \
        "resources/songsim.svg changed: run packaging/render_icons.py to refresh the icons"


def test_the_metainfo_names_the_app_its_commands_and_the_current_version():
    root = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()
    project = _pyproject()["project"]
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == f"{APP_ID}.desktop"
    binaries = {b.text for b in root.iter("binary")}
    assert binaries == set(project["scripts"]) | set(project["gui-scripts"])
    latest = root.find("releases/release").get("version")
    assert latest == project["version"] == songsim_desktop.__version__
    assert f"## [{latest}]" in (REPO / "CHANGELOG.md").read_text(encoding="utf-8")


# --- install.sh / uninstall.sh on a stand-in bundle ------------------------------------------------

@pytest.fixture
def bundle(tmp_path) -> Path:
    """The layout build_bundle.sh makes, with shell scripts in place of the two executables."""
    root = tmp_path / "unpacked" / "songsim"
    (root / "_internal").mkdir(parents=True)
    for exe in ("songsim", "songsim-desktop"):
        path = root / exe
        path.write_text(f'#!/bin/sh\necho "{exe} ran with: $*"\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    shutil.copytree(LINUX, root / "linux")
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(PACKAGING / script, root / script)
    return root


def _sh(script: Path, prefix: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "PREFIX": str(prefix)}
    done = subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _files_under(folder: Path) -> set[str]:
    caches = {"mimeinfo.cache", "icon-theme.cache"}  # the desktop database's, rebuilt by the scripts
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if (p.is_file() or p.is_symlink()) and p.name not in caches}


def test_install_puts_everything_in_place_and_uninstall_removes_it(bundle, tmp_path):
    prefix = tmp_path / "prefix with space"
    _sh(bundle / "install.sh", prefix, tmp_path)
    appdir = prefix / "lib" / "songsim-desktop"

    for exe in ("songsim", "songsim-desktop"):
        link = prefix / "bin" / exe
        assert link.is_symlink() and Path(os.readlink(link)) == appdir / exe
    ran = subprocess.run([str(prefix / "bin" / "songsim"), "self-test"], capture_output=True, text=True)
    assert ran.stdout.strip() == "songsim ran with: self-test"

    entry = _desktop_entry(prefix / "share" / "applications" / f"{APP_ID}.desktop")
    assert entry["Exec"] == f'"{appdir}/songsim-desktop" %F'  # works even when ~/.local/bin is not on PATH
    assert entry["TryExec"] == f"{appdir}/songsim-desktop"
    assert (prefix / "share" / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in ICON_SIZES:
        assert (prefix / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (appdir / "uninstall.sh").is_file()

    done = _sh(appdir / "uninstall.sh", prefix, tmp_path)
    assert not appdir.exists()
    assert _files_under(prefix) == set()
    assert "your library data is kept" in done.stdout


def test_reinstalling_replaces_the_old_install_cleanly(bundle, tmp_path):
    prefix = tmp_path / "prefix"
    _sh(bundle / "install.sh", prefix, tmp_path)
    stale = prefix / "lib" / "songsim-desktop" / "_internal" / "from-the-old-version.so"
    stale.write_text("old")
    _sh(bundle / "install.sh", prefix, tmp_path)
    assert not stale.exists()
    manifest = (prefix / "lib" / "songsim-desktop" / ".installed-files").read_text().splitlines()
    assert len(manifest) == len(set(manifest)) == 2 + 1 + 1 + len(ICON_SIZES) + 1  # bin, .desktop, metainfo, icons
    _sh(prefix / "lib" / "songsim-desktop" / "uninstall.sh", prefix, tmp_path)
    assert _files_under(prefix) == set()


def test_a_command_installed_by_someone_else_is_left_alone(bundle, tmp_path):
    prefix = tmp_path / "prefix"
    theirs = prefix / "bin" / "songsim"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("#!/bin/sh\necho pip's songsim\n")
    done = _sh(bundle / "install.sh", prefix, tmp_path)
    assert "not ours" in done.stderr
    assert not theirs.is_symlink() and "pip's songsim" in theirs.read_text()
    assert (prefix / "bin" / "songsim-desktop").is_symlink()
    _sh(prefix / "lib" / "songsim-desktop" / "uninstall.sh", prefix, tmp_path)
    assert _files_under(prefix) == {"bin/songsim"}
