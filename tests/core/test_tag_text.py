"""The one rule for reading tags out of text."""

from __future__ import annotations

from songsim_desktop.core.tag_text import parse_tags


def test_every_separator_taggers_use_splits_tags():
    assert parse_tags("techno; Ambient / dub|house, deep house") == ["techno", "Ambient", "dub", "house", "deep house"]


def test_spaces_and_empty_parts_are_dropped_and_nothing_gives_nothing():
    assert parse_tags("  dark ,, ;  pads  ") == ["dark", "pads"]
    assert parse_tags("") == [] and parse_tags(None) == [] and parse_tags(" ; ") == []


def test_a_tag_keeps_its_inner_characters():
    assert parse_tags("90s-house, drum & bass, r'n'b") == ["90s-house", "drum & bass", "r'n'b"]
