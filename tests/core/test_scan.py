"""The walk and the change plan: which files a scan sees, and which of them need work."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from songsim_desktop.core import scan
from songsim_desktop.core.scan import FoundFile, KnownTrack, plan_from, walk


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def names(result) -> list[str]:
    return sorted(os.path.basename(f.path) for f in result.files)


def test_walk_finds_supported_extensions_case_insensitively_and_skips_the_rest(tmp_path):
    for name in ("a.mp3", "b.MP3", "c.Flac", "d.wav", "e.m4a", "notes.txt", "cover.jpg", "._f.mp3", "noext"):
        touch(tmp_path / "sub" / name)
    assert names(walk(tmp_path)) == ["a.mp3", "b.MP3", "c.Flac", "d.wav", "e.m4a"]


def test_walk_reports_identity_of_each_file(tmp_path):
    f = touch(tmp_path / "a.wav", b"12345")
    os.utime(f, ns=(1_000_000_000, 2_000_000_123))
    (found,) = walk(tmp_path).files
    assert (found.path, found.size, found.mtime_ns) == (str(f), 5, 2_000_000_123)
    assert scan.identity_of(f) == found.identity


def test_symlink_loop_terminates_and_lists_each_file_once(tmp_path):
    touch(tmp_path / "a" / "one.wav")
    touch(tmp_path / "a" / "b" / "two.wav")
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "back-up")  # a/b/back-up -> a: a loop
    os.symlink(tmp_path / "a" / "b" / "loop-self", tmp_path / "a" / "b" / "loop-self")  # dangling self link
    result = walk(tmp_path)
    assert names(result) == ["one.wav", "two.wav"]


def test_symlinked_folder_outside_the_root_is_followed(tmp_path):
    touch(tmp_path / "elsewhere" / "far.flac")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path / "elsewhere", root / "linked")
    result = walk(root)
    assert [f.path for f in result.files] == [str(root / "linked" / "far.flac")]


def test_dangling_audio_symlink_is_reported_not_fatal(tmp_path):
    touch(tmp_path / "ok.wav")
    os.symlink(tmp_path / "gone.wav", tmp_path / "dangling.wav")
    result = walk(tmp_path)
    assert names(result) == ["ok.wav"]
    assert result.errors == [(str(tmp_path / "dangling.wav"),
                              f"while reading {tmp_path / 'dangling.wav'}: broken symbolic link")]


def _make_unreadable(monkeypatch, folder: Path) -> None:
    """chmod 000 when that means something; as root (CI) make os.scandir refuse the folder."""
    if os.geteuid() != 0:
        folder.chmod(0)
        return
    real = os.scandir

    def refusing(path="."):
        if os.fspath(path) == str(folder):
            raise PermissionError(13, "Permission denied", str(folder))
        return real(path)

    monkeypatch.setattr(scan.os, "scandir", refusing)


def test_unreadable_folder_is_reported_and_skipped(tmp_path, monkeypatch):
    touch(tmp_path / "good" / "a.wav")
    touch(tmp_path / "locked" / "hidden.wav")
    locked = tmp_path / "locked"
    _make_unreadable(monkeypatch, locked)
    try:
        result = walk(tmp_path)
    finally:
        locked.chmod(0o755)
    assert names(result) == ["a.wav"]
    assert result.unreadable_dirs == [str(locked)]
    (where, message), = result.errors
    assert where == str(locked)
    assert message.startswith(f"while listing folder {locked}:") and "ermission denied" in message


def test_walk_of_a_missing_root_is_an_error_not_a_crash(tmp_path):
    result = walk(tmp_path / "nope")
    assert result.files == [] and "while listing folder" in result.errors[0][1]


def test_unicode_names_nfc_nfd_and_emoji_are_all_found(tmp_path):
    nfc = unicodedata.normalize("NFC", "café.wav")
    nfd = unicodedata.normalize("NFD", "café.wav")
    for name in (nfc, nfd, "🎵 song ☃.flac", "日本語.mp3"):
        touch(tmp_path / name)
    found = {os.path.basename(f.path) for f in walk(tmp_path).files}
    assert found == {nfc, nfd, "🎵 song ☃.flac", "日本語.mp3"}  # two distinct files on Linux


def F(path, size=1, mtime=1) -> FoundFile:
    return FoundFile(path, size, mtime)


def test_plan_sorts_new_changed_unchanged_vanished():
    walked = scan.WalkResult(files=[F("/r/new.wav"), F("/r/same.wav"), F("/r/edited.wav", 2),
                                    F("/r/back.wav"), F("/r/bad.wav")])
    known = [KnownTrack("/r/same.wav", 1, 1, "ok"), KnownTrack("/r/edited.wav", 1, 1, "ok"),
             KnownTrack("/r/back.wav", 1, 1, "missing"), KnownTrack("/r/bad.wav", 1, 1, "error"),
             KnownTrack("/r/gone.wav", 1, 1, "ok"), KnownTrack("/r/gone-before.wav", 1, 1, "missing")]
    p = plan_from("/r", walked, known)
    assert [f.path for f in p.new] == ["/r/new.wav"]
    assert [f.path for f in p.changed] == ["/r/edited.wav"]
    assert [f.path for f in p.restored] == ["/r/back.wav"]  # back unchanged: nothing to redo
    # An error is not retried until the file changes: it would only fail again.
    assert sorted(f.path for f in p.unchanged) == ["/r/bad.wav", "/r/same.wav"]
    assert p.vanished == ["/r/gone.wav"]


def test_plan_reprocesses_tracks_lacking_a_vector_for_the_model():
    walked = scan.WalkResult(files=[F("/r/a.wav"), F("/r/b.wav"), F("/r/c.wav")])
    known = [KnownTrack("/r/a.wav", 1, 1, "ok"), KnownTrack("/r/b.wav", 1, 1, "ok"),
             KnownTrack("/r/c.wav", 1, 1, "missing")]
    p = plan_from("/r", walked, known, needs_vectors={"/r/b.wav", "/r/c.wav"})
    assert [f.path for f in p.changed] == ["/r/b.wav", "/r/c.wav"] and [f.path for f in p.unchanged] == ["/r/a.wav"]
    assert p.restored == []


def test_tracks_under_an_unreadable_folder_are_not_declared_vanished():
    walked = scan.WalkResult(files=[], errors=[("/r/locked", "while listing folder /r/locked: denied")],
                             unreadable_dirs=["/r/locked"])
    known = [KnownTrack("/r/locked/a.wav", 1, 1, "ok"), KnownTrack("/r/lockedX.wav", 1, 1, "ok")]
    p = plan_from("/r", walked, known)
    assert p.vanished == ["/r/lockedX.wav"]  # a sibling whose name merely starts the same is gone
    assert p.errors == walked.errors


@pytest.mark.parametrize("name,expected", [("a.MP3", True), ("b.opus", True), ("c.txt", False),
                                           ("._d.wav", False), ("e", False)])
def test_is_supported(name, expected):
    assert scan.is_supported(name) is expected
