"""`songsim self-test`: one PASS line on a working install, one FAIL line naming the cause otherwise."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from songsim_desktop import selftest


def _run(argv=None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = selftest.main(argv, out=out)
    return code, out.getvalue().splitlines()


def test_passes_on_a_working_install_and_leaves_the_user_data_alone(isolated_data_dir):
    code, lines = _run(["--workers", "1"])
    assert len(lines) == 1, lines
    assert lines[0].startswith(selftest.PASS_PREFIX + " ("), lines[0]
    assert code == 0
    n = len(selftest.FAMILIES) * selftest.TRACKS_PER_FAMILY
    assert f"{n} tracks indexed" in lines[0]
    # The self-test keeps its library and data in its own temporary folder, never the user's.
    assert not isolated_data_dir.exists() or not any(isolated_data_dir.iterdir())


def test_a_track_that_cannot_be_decoded_fails_with_its_name(monkeypatch):
    real_write = selftest._write_tracks

    def write_with_a_broken_file(folder: Path) -> dict[Path, str]:
        made = real_write(folder)
        broken = folder / "broken-track.wav"
        broken.write_bytes(b"RIFF\x00\x00\x00\x00this is not audio at all")
        made[broken] = "broken"
        return made

    monkeypatch.setattr(selftest, "_write_tracks", write_with_a_broken_file)
    code, lines = _run(["--workers", "1"])
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(selftest.FAIL_PREFIX + ": "), lines[0]
    assert "broken-track.wav" in lines[0]


def test_an_unexpected_error_is_one_fail_line_not_a_traceback(monkeypatch):
    def explode(folder: Path):
        raise OSError("disk full")

    monkeypatch.setattr(selftest, "_write_tracks", explode)
    code, lines = _run()
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{selftest.FAIL_PREFIX}: while synthesising test tracks in "), lines[0]
    assert lines[0].endswith(": disk full"), lines[0]


def test_bad_arguments_are_reported_on_the_one_line():
    code, lines = _run(["--workers", "many"])
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(selftest.FAIL_PREFIX) and "usage" in lines[0]


def test_the_songsim_console_script_runs_it():
    """`songsim self-test` is the route users and packaging/check_bundle.sh take."""
    script = Path(sys.executable).with_name("songsim")
    assert script.exists(), f"{script} missing: install the project (pip install -e .)"
    done = subprocess.run([str(script), "self-test"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    lines = done.stdout.splitlines()
    assert done.returncode == 0, (done.stdout, done.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith(selftest.PASS_PREFIX), done.stdout
