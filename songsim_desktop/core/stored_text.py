"""Text that SQLite can store, for every name a file system can give.

A file name that is not valid UTF-8 (Latin-1 bytes from an old FAT drive) reaches Python as a str
with surrogate escapes (``'caf\\udce9.wav'``), which sqlite3 refuses to bind ("surrogates not
allowed").  The library stores such text losslessly as valid Unicode: each escaped byte becomes
ESCAPE + a private-use character, and a literal ESCAPE is doubled, so decoding gives back the very
str Python had (and with it the file's bytes).  Text without either character -- nearly all --
is stored as it is, so existing databases and their path ranges need no migration.

``readable()`` is how such a name is shown to people: undecodable bytes as U+FFFD.
"""

from __future__ import annotations

import re

ESCAPE = "\uf8ff"  # private use: never produced by a decoder, rare in names
_BYTE_BASE = 0xF700  # ESCAPE + chr(0xF780..0xF7FF) stands for the surrogate escape of byte 0x80..0xFF
_TO_STORE = re.compile("[\uf8ff\udc80-\udcff]")
_FROM_STORE = re.compile("\uf8ff(.)", re.S)


def _escape(match: re.Match) -> str:
    char = match.group()
    return ESCAPE + (ESCAPE if char == ESCAPE else chr(ord(char) - 0xDC00 + _BYTE_BASE))


def _unescape(match: re.Match) -> str:
    char = match.group(1)
    if char == ESCAPE:
        return ESCAPE
    code = ord(char) - _BYTE_BASE + 0xDC00
    return chr(code) if 0xDC80 <= code <= 0xDCFF else match.group()


def to_stored(text: str) -> str:
    """``text`` as valid Unicode that SQLite stores; ``from_stored`` undoes it exactly."""
    return _TO_STORE.sub(_escape, text) if _TO_STORE.search(text) else text


def from_stored(text: str) -> str:
    return _FROM_STORE.sub(_unescape, text) if ESCAPE in text else text


def stored_params(params):
    """Query parameters (a sequence or a mapping) with every str made storable."""
    if isinstance(params, dict):
        return {k: to_stored(v) if isinstance(v, str) else v for k, v in params.items()}
    return [to_stored(v) if isinstance(v, str) else v for v in params]


def readable(text: str) -> str:
    """For people: undecodable bytes shown as U+FFFD, so printing never fails."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
