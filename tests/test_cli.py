"""The `songsim` command line: exit codes, stdout/stderr split, the --json format, Ctrl-C."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from songsim_desktop import cli
from songsim_desktop.core import synth
from songsim_desktop.core.progress import Progress

FAMILIES = [synth.Family("sine", "straight"), synth.Family("bell", "swing")]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A music folder (with one bad file) indexed once through the CLI; tests only read it."""
    base = tmp_path_factory.mktemp("cli")
    made = synth.write_library(base / "music", FAMILIES, 2, 6.5, suffixes=(".wav", ".flac"))
    (base / "music" / "readme.mp3").write_text("not audio at all")
    data = base / "data"
    code = cli.main(["--data-dir", str(data), "index", str(base / "music"), "--workers", "0"])
    return base, data, sorted(made), code


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_index_reports_on_stdout_and_errors_on_stderr(tmp_path, capsys):
    music = tmp_path / "music"
    synth.write_library(music, FAMILIES[:1], 2, 6.5)
    code, out, err = run(capsys, "index", str(music), "--workers", "0")
    assert code == 0
    assert out == f"{music}: 2 added, 0 updated, 0 unchanged, 0 missing, 0 failed\n"
    assert "scan 2/2 (100%)" in err and "error" not in err
    code, out, _ = run(capsys, "index", str(music), "--workers", "0")
    assert code == 0 and "0 added, 0 updated, 2 unchanged" in out


def test_some_files_failed_exits_1_with_one_line_per_file(indexed, tmp_path, capsys):
    assert indexed[3] == 1  # the module's library has readme.mp3
    music = tmp_path / "music"
    synth.write_track(music / "fine.wav", FAMILIES[0], 6.5)
    (music / "empty.wav").write_bytes(b"")
    (music / "text.mp3").write_text("hello")
    code, out, err = run(capsys, "index", str(music), "--workers", "0")
    assert code == 1 and out.endswith("1 added, 0 updated, 0 unchanged, 0 missing, 2 failed\n")
    errors = [line for line in err.splitlines() if line.startswith("songsim: error:")]
    real = music.resolve()
    assert errors == [f"songsim: error: while decoding {real / 'empty.wav'}: file is empty (0 bytes)",
                      f"songsim: error: while decoding {real / 'text.mp3'}: not a readable audio file "
                      "(format not recognised)"]


def test_query_json_one_line_per_reference_best_first(indexed, capsys):
    base, data, made, _ = indexed
    code, out, err = run(capsys, "--data-dir", str(data), "query", "--json", "-k", "2", str(made[0]), str(made[2]))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and "{" not in err
    for line, ref in zip(lines, (made[0], made[2])):
        record = json.loads(line)
        assert record["query"] == str(ref) and len(record["results"]) == 2
        for hit in record["results"]:
            assert set(hit) == {"path", "distance", "similarity", "title", "artist", "offset", "section_distance",
                                "tempo", "key"}
            assert hit["path"] != str(ref.resolve())
            assert 0.0 <= hit["similarity"] <= 100.0
        assert [h["distance"] for h in record["results"]] == sorted(h["distance"] for h in record["results"])
        similarities = [h["similarity"] for h in record["results"]]
        assert similarities == sorted(similarities, reverse=True)  # nearer never reads as less similar


def test_query_table_and_a_failed_reference(indexed, capsys, tmp_path):
    base, data, made, _ = indexed
    bad = tmp_path / "bad.mp3"
    bad.write_text("nope")
    code, out, err = run(capsys, "--data-dir", str(data), "query", "-k", "3", str(made[1]), str(bad))
    assert code == 1
    assert out.startswith(f"{made[1]}  (model ") and " 1. " in out and " 3. " in out and " 4. " not in out
    assert f"songsim: error: while decoding {bad}: not a readable audio file" in err
    code, out, _ = run(capsys, "--data-dir", str(data), "query", "--json", str(bad))
    assert code == 1 and json.loads(out)["results"] == [] and "error" in json.loads(out)


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["query"], ["query", "x.wav", "-k", "0"],
                                  ["index", "/no/such/folder"], ["models", "activate"],
                                  ["models", "activate", "ffffffffffffffff"], ["train"]])
def test_usage_errors_exit_2(argv, capsys):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.strip()


def test_status_models_and_export(indexed, capsys, tmp_path):
    base, data, made, _ = indexed
    code, out, _ = run(capsys, "--data-dir", str(data), "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["counts"]["ok"] == len(made) and status["counts"]["error"] == 1
    assert status["errors"][0][0] == str((base / "music" / "readme.mp3").resolve())
    code, out, _ = run(capsys, "--data-dir", str(data), "status")
    assert code == 0 and f"{len(made)} ok" in out and "error: while decoding" in out
    code, out, _ = run(capsys, "--data-dir", str(data), "models")
    assert code == 0 and out.startswith(f"* {status['model_id']}") and "built-in" in out
    code, out, _ = run(capsys, "--data-dir", str(data), "export-vectors", "--out", str(tmp_path / "v.npz"))
    assert code == 0 and f"wrote {len(made)} vectors" in out
    npz = np.load(tmp_path / "v.npz")
    assert npz["vectors"].shape[0] == len(made) == len(npz["paths"]) and str(npz["model_id"]) == status["model_id"]


def test_train_sets_user_tags_then_says_torch_is_missing(indexed, capsys, tmp_path, monkeypatch):
    base, data, made, _ = indexed
    csv_file = tmp_path / "tags.csv"
    csv_file.write_text(f"path,tags\n{made[0]},Dark; Ambient\n{made[1]},dark\n/not/here.wav,x\n", encoding="utf-8")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    code, out, err = run(capsys, "--data-dir", str(data), "train", "--tags", str(csv_file), "--epochs", "1")
    assert code == 3 and out == ""
    assert "not in the library" in err and "pip install" in err
    from songsim_desktop.core.service import SongsimService

    with SongsimService(data) as svc:
        assert svc.tag_counts() == {"dark": 2, "ambient": 1}


def test_a_damaged_library_is_a_fatal_error_naming_the_file(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "library.sqlite3").write_bytes(b"definitely not sqlite " * 100)
    code, out, err = run(capsys, "--data-dir", str(data), "status")
    assert code == 3 and out == ""
    assert str(data / "library.sqlite3") in err and err.startswith("songsim: error:")


def test_self_test_is_dispatched_to_the_selftest_module(monkeypatch):
    from songsim_desktop import selftest

    monkeypatch.setattr(selftest, "main", lambda *a, **k: 7)
    assert cli.main(["self-test"]) == 7


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_updating_line_on_a_terminal():
    stream = FakeTerminal()
    printer = cli.ProgressPrinter(stream)
    for done in range(3):
        printer(Progress("scan", done, 2))
    printer.finish()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1


def test_progress_without_a_terminal_is_throttled_lines(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(cli.time, "monotonic", lambda: 1000.0)  # no time passes
    printer = cli.ProgressPrinter(stream)
    for done in range(51):
        printer(Progress("scan", done, 100))
    printer.finish()
    assert stream.getvalue().splitlines() == [Progress("scan", 0, 100).line(), Progress("scan", 50, 100).line()]


def test_ctrl_c_cancels_keeps_committed_work_and_exits_130(tmp_path):
    music = tmp_path / "music"
    made = synth.write_library(music, FAMILIES, 3, 6.5)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # One file per commit, so some are committed before the Ctrl-C.
    run_cli = ("import sys; from songsim_desktop.core import jobs; jobs.COMMIT_EVERY = 1; "
               "from songsim_desktop import cli; sys.exit(cli.main(sys.argv[1:]))")
    cmd = [sys.executable, "-c", run_cli, "--data-dir", str(tmp_path / "data"), "index", str(music),
           "--workers", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()  # the first progress line: the job is running
    assert first.startswith("scan 0/"), first
    assert wait_for_commits(tmp_path / "data" / "library.sqlite3", proc) >= 1
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out == "" and "cancelled; the work committed so far is kept" in err
    kept = ok_tracks(tmp_path / "data" / "library.sqlite3")
    assert 1 <= kept < len(made)
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(made) - kept} added, 0 updated, {kept} unchanged" in rerun.stdout


def ok_tracks(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM tracks WHERE state = 'ok'").fetchone()[0]


def wait_for_commits(db: Path, proc, deadline_s: float = 60.0) -> int:
    """Poll (read-only; WAL lets us) until the running scan has committed a track."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and proc.poll() is None:
        try:
            if ok_tracks(db):
                return ok_tracks(db)
        except sqlite3.Error:
            pass  # the file is being created
        time.sleep(0.01)
    return 0
