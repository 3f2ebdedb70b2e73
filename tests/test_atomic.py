"""songsim_desktop.atomic: the one way songsim writes a file it may be reading at the same time."""

from __future__ import annotations

import stat

import pytest

from songsim_desktop import atomic


def test_a_write_replaces_the_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "ä playlist.m3u"
    target.write_text("old")
    atomic.write_text(target, "new ☃", durable=True)
    assert target.read_text(encoding="utf-8") == "new ☃"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert stat.S_IMODE(target.stat().st_mode) == atomic.FILE_MODE  # not mkstemp's private 0600


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "index.hnsw"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half of the new")
            assert tmp.parent == target.parent and tmp.name.startswith(".")  # same file system, hidden
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
