"""The lossless text encoding behind non-UTF-8 file names in the library (issue 14, #1)."""

from __future__ import annotations

import os

import pytest

from songsim_desktop.core.stored_text import ESCAPE, from_stored, readable, stored_params, to_stored

NAMES = [
    "/music/plain.wav",
    os.fsdecode(b"/music/caf\xe9.wav"),  # Latin-1 from a FAT drive: surrogate escapes
    "/music/\uf8ff apple logo.wav",  # the escape character itself, literally in a name
    os.fsdecode(b"/music/\xff\xfe") + "\uf8ff\uf780",  # bytes, then a literal escape that looks like one
    "/music/日本語 🎧.flac",
]


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_is_exact_and_the_stored_form_is_valid_utf8(name):
    stored = to_stored(name)
    stored.encode("utf-8")  # what sqlite3 does: must not raise
    assert from_stored(stored) == name
    assert os.fsencode(from_stored(stored)) == os.fsencode(name)  # the file's own bytes


def test_ordinary_text_is_stored_unchanged_so_old_databases_need_no_migration():
    assert to_stored("/music/Café – 日本語.wav") == "/music/Café – 日本語.wav"
    assert from_stored("/music/a.wav") == "/music/a.wav"


def test_a_prefix_stays_a_prefix_so_folder_ranges_still_work():
    root, name = os.fsdecode(b"/m/\xe9/"), os.fsdecode(b"/m/\xe9/x\xe9.wav")
    assert to_stored(name).startswith(to_stored(root))


def test_params_and_readable_form():
    bad = os.fsdecode(b"caf\xe9")
    assert stored_params((bad, 3, None)) == [to_stored(bad), 3, None]
    assert stored_params({"p": bad}) == {"p": to_stored(bad)}
    assert readable(bad) == "caf\ufffd" and ESCAPE not in readable(bad)
