"""Tags from audio files (title, artist, album, genre, mood, grouping, comment) via mutagen.

Tags feed the library's columns and the training pairs (tag overlap), so they are read from every
tag system mutagen knows: ID3 (MP3, and WAV/AIFF with an ID3 chunk), Vorbis comments (FLAC, OGG,
Opus), MP4 atoms (m4a), APEv2 and ASF.  A file whose tags cannot be read is not an error here: the
decoder decides whether the file is usable; this returns all None.  The caller falls back to the
file name for a missing title.
"""

from __future__ import annotations

import logging
import os
import re

import mutagen
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags

FIELDS = ("title", "artist", "album", "genre", "mood", "grouping", "comment")
# The fields whose values become tags (source 'file'): what a track *is*, not what it is called.
TAG_FIELDS = ("genre", "mood", "grouping")
# Separators users put between several genres or moods in one field ("Techno; Dub / Ambient").
_TAG_SPLIT = re.compile(r"\s*[;,/|]\s*")
log = logging.getLogger(__name__)

_ID3_FRAMES = {
    "title": ("TIT2",), "artist": ("TPE1", "TPE2"), "album": ("TALB",), "genre": ("TCON",),
    "mood": ("TMOO",), "grouping": ("GRP1", "TIT1"), "comment": ("COMM",),
}
_MP4_ATOMS = {
    "title": ("\xa9nam",), "artist": ("\xa9ART", "aART"), "album": ("\xa9alb",),
    "genre": ("\xa9gen",), "mood": ("----:com.apple.iTunes:MOOD", "----:com.apple.iTunes:mood"),
    "grouping": ("\xa9grp",), "comment": ("\xa9cmt",),
}
# Vorbis comments, APEv2 and ASF: case-insensitive names, first one found wins.
_GENERIC_KEYS = {
    "title": ("title", "wm/title"), "artist": ("artist", "author", "albumartist", "album artist"),
    "album": ("album", "wm/albumtitle"), "genre": ("genre", "wm/genre"), "mood": ("mood", "wm/mood"),
    "grouping": ("grouping", "contentgroup", "wm/contentgroupdescription"),
    "comment": ("comment", "description", "wm/comments"),
}


def _clean(value) -> str | None:
    """One display string from a tag value (lists joined with '; '), None when blank."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        parts = [_clean(v) for v in value]
        text = "; ".join(p for p in parts if p)
    elif isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    else:
        text = str(getattr(value, "value", value))
    text = text.replace("\x00", "; ").strip()
    return text or None


def _from_id3(tags: ID3) -> dict:
    out = dict.fromkeys(FIELDS)
    for field, frame_ids in _ID3_FRAMES.items():
        for frame_id in frame_ids:
            frames = tags.getall(frame_id)
            if frame_id == "COMM":  # skip iTunes' machine comments (iTunNORM, iTunSMPB...)
                frames = [f for f in frames if not str(f.desc).startswith("iTun")]
            text = _clean([t for f in frames for t in getattr(f, "text", [])])
            if text:
                out[field] = text
                break
    return out


def _from_mp4(tags: MP4Tags) -> dict:
    out = dict.fromkeys(FIELDS)
    for field, atoms in _MP4_ATOMS.items():
        for atom in atoms:
            if atom in tags:
                text = _clean(tags[atom])
                if text:
                    out[field] = text
                    break
    return out


def _from_generic(tags) -> dict:
    out = dict.fromkeys(FIELDS)
    lowered: dict[str, object] = {}
    for key, value in tags.items():
        lowered.setdefault(str(key).lower(), value)
    for field, names in _GENERIC_KEYS.items():
        for name in names:
            text = _clean(lowered.get(name))
            if text:
                out[field] = text
                break
    return out


def read_tags(path: str | os.PathLike) -> dict:
    """``{field: str | None}`` for FIELDS; never raises (a bad or untagged file gives all None)."""
    try:
        audio = mutagen.File(str(path))
        tags = None if audio is None else audio.tags
        if tags is None:
            return dict.fromkeys(FIELDS)
        if isinstance(tags, ID3):
            return _from_id3(tags)
        if isinstance(tags, MP4Tags):
            return _from_mp4(tags)
        return _from_generic(tags)
    except Exception as exc:  # noqa: BLE001 - tags are optional; the decoder reports bad files
        log.debug("while reading tags of %s: %s", path, exc)
        return dict.fromkeys(FIELDS)


def split_tags(text) -> list[str]:
    """One tag field (or a typed/CSV list) -> its tags, trimmed, without empties: THE rule for
    reading several tags out of one text, used for file metadata, tag CSVs and the GUI alike.
    (Case and inner spacing are normalised when the library stores them.)"""
    return [t for t in (part.strip() for part in _TAG_SPLIT.split(str(text or ""))) if t]


def file_tags(tags: dict) -> set[str]:
    """Tags (source 'file') from a file's genre, mood and grouping fields, lower-cased."""
    out: set[str] = set()
    for key in TAG_FIELDS:
        value = tags.get(key)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            out.update(t.lower() for t in split_tags(v))
    return out
