"""Reading several tags out of one piece of text: THE rule, for typed tags and file metadata alike.

"techno; Ambient / dub" -> ["techno", "Ambient", "dub"].  Any of , ; / | separates tags (file taggers
use all four); each tag is trimmed and empties are dropped.  Case and inner spacing are left alone
here: the library normalises them when it stores a tag (library_records.normalise_tag).
"""

from __future__ import annotations

import re

TAG_SEPARATORS = re.compile(r"\s*[;,/|]\s*")


def parse_tags(text: object) -> list[str]:
    """The tags in ``text`` (None or "" give none), trimmed, in order, without empties."""
    return [tag for tag in (part.strip() for part in TAG_SEPARATORS.split(str(text or ""))) if tag]
