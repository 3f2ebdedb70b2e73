"""core.metadata.read_tags: every tag system users' files carry, and never an exception."""

from __future__ import annotations

import pytest
from mutagen.flac import FLAC
from mutagen.id3 import COMM, GRP1, ID3, TALB, TCON, TIT1, TIT2, TMOO, TPE1
from mutagen.mp4 import MP4, MP4FreeForm
from mutagen.oggvorbis import OggVorbis

from core.audio_factory import sine, write_m4a, write_not_audio, write_random_bytes, write_sine
from songsim_desktop.core.metadata import FIELDS, read_tags

FULL = {"title": "Nightcall", "artist": "Kavinsky", "album": "OutRun", "genre": "Synthwave",
        "mood": "Dark", "grouping": "Driving", "comment": "great bass"}


def test_mp3_id3_tags(tmp_path):
    path = write_sine(tmp_path / "a.mp3", seconds=1.0)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=FULL["title"]))
    tags.add(TPE1(encoding=3, text=FULL["artist"]))
    tags.add(TALB(encoding=3, text=FULL["album"]))
    tags.add(TCON(encoding=3, text=FULL["genre"]))
    tags.add(TMOO(encoding=3, text=FULL["mood"]))
    tags.add(GRP1(encoding=3, text=FULL["grouping"]))
    tags.add(COMM(encoding=3, lang="eng", desc="iTunNORM", text=" 000001 0002"))  # machine noise
    tags.add(COMM(encoding=3, lang="eng", desc="", text=FULL["comment"]))
    tags.save(str(path))
    assert read_tags(path) == FULL


def test_id3_grouping_falls_back_to_tit1_and_multiple_values_join(tmp_path):
    path = write_sine(tmp_path / "b.mp3", seconds=1.0)
    tags = ID3()
    tags.add(TIT1(encoding=3, text="Workout"))
    tags.add(TCON(encoding=3, text=["House", "Techno"]))
    tags.save(str(path))
    got = read_tags(path)
    assert got["grouping"] == "Workout"
    assert got["genre"] == "House; Techno"
    assert got["title"] is None and got["comment"] is None


@pytest.mark.parametrize("suffix,cls", [(".flac", FLAC), (".ogg", OggVorbis)])
def test_vorbis_comments(tmp_path, suffix, cls):
    path = write_sine(tmp_path / f"c{suffix}", seconds=1.0)
    f = cls(str(path))
    for key, value in FULL.items():
        f[key.upper() if key != "comment" else "DESCRIPTION"] = value
    f.save()
    assert read_tags(path) == FULL


def test_mp4_atoms(tmp_path):
    path = write_m4a(tmp_path / "d.m4a", sine(1.5, 44100), 44100)
    f = MP4(str(path))
    f["\xa9nam"] = FULL["title"]
    f["\xa9ART"] = FULL["artist"]
    f["\xa9alb"] = FULL["album"]
    f["\xa9gen"] = FULL["genre"]
    f["\xa9grp"] = FULL["grouping"]
    f["\xa9cmt"] = FULL["comment"]
    f["----:com.apple.iTunes:MOOD"] = MP4FreeForm(FULL["mood"].encode())
    f.save()
    assert read_tags(path) == FULL


def test_unicode_values_and_untagged_file(tmp_path):
    path = write_sine(tmp_path / "e.flac", seconds=1.0)
    assert read_tags(path) == dict.fromkeys(FIELDS)
    f = FLAC(str(path))
    f["TITLE"] = "Déjà vu 🎧 夜"
    f["ARTIST"] = "   "  # blank counts as missing
    f.save()
    got = read_tags(path)
    assert got["title"] == "Déjà vu 🎧 夜" and got["artist"] is None


def test_bad_files_give_all_none_and_never_raise(tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    for path in (empty, write_not_audio(tmp_path / "x.mp3"), write_random_bytes(tmp_path / "r.flac"),
                 tmp_path / "missing.ogg", tmp_path):
        assert read_tags(path) == dict.fromkeys(FIELDS)
