"""GUI test fixtures: a small synthesised library scanned once per session, copied into each test's
own data folder, and a window factory wired exactly as the app does (build_window) with a FakeOutput.
"""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path

import pytest

from songsim_desktop.core import synth
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.ui.app import build_window
from songsim_desktop.ui.player import FakeOutput

# Four audibly different families, two tracks each, 7 s (longer than one 5.9 s model crop).
FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing"), synth.Family("bell", "drone"),
            synth.Family("noise", "sparse")]


@pytest.fixture(scope="session")
def music_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("music") / "Müsic library"  # unicode and a space, as users have
    synth.write_library(folder, FAMILIES, per_family=2, seconds=7.0)
    return folder


@pytest.fixture(scope="session")
def scanned_template(tmp_path_factory, music_folder) -> Path:
    data = tmp_path_factory.mktemp("scanned-data")
    svc = SongsimService(data)
    try:
        report = drive(svc.scan_job(music_folder, workers=0))
        assert report.added == 2 * len(FAMILIES) and not report.failed
    finally:
        svc.close()
    return data


@pytest.fixture
def scanned_service(scanned_template, isolated_data_dir):
    shutil.copytree(scanned_template, isolated_data_dir, dirs_exist_ok=True)
    svc = SongsimService()
    yield svc
    svc.close()


@pytest.fixture
def empty_service(isolated_data_dir):
    svc = SongsimService()
    yield svc
    svc.close()


@pytest.fixture
def no_portaudio(monkeypatch):
    """``import sounddevice`` fails as it does where the PortAudio library is not installed."""
    real_import = builtins.__import__

    def importer(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", importer)


@pytest.fixture
def make_window(qtbot):
    made = []

    def make(service, output=None, settings=None):
        output = output if output is not None else FakeOutput()
        window = build_window(service, settings, output, catch_exceptions=False)
        window.ctx.scan_workers = 0
        qtbot.addWidget(window)
        made.append(window)
        qtbot.waitUntil(lambda: window.ctx.pool.idle, timeout=30000)  # start-up fetches delivered
        return window

    yield make
    for window in made:  # no worker may outlive its service
        window.ctx.pool.abort_all()
        window.ctx.pool.wait(60000)
        window.ctx.player.shutdown()


def wait_for_worker(qtbot, worker, timeout=60000):
    """Wait until a worker has finished and the GUI thread has handled all of its signals."""
    if worker is not None:
        qtbot.waitUntil(lambda: worker.delivered, timeout=timeout)


def wait_idle(qtbot, window, timeout=60000):
    """Wait until no worker of the window runs and every follow-up (refreshes...) is done too."""
    qtbot.waitUntil(lambda: window.ctx.pool.idle, timeout=timeout)
