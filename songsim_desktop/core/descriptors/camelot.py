"""Keys as people write them ("A minor") and as DJs mix them (Camelot codes, "8A").

The Camelot wheel numbers the 12 major keys (B) and their relative minors (A) around the circle of
fifths: C major is 8B, A minor (its relative) 8A, G major 9B.  Two keys mix well when they have the
same code, neighbouring numbers with the same letter (a fifth apart), or the same number with the
other letter (relative major/minor).
"""

from __future__ import annotations

import re
from typing import Optional

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
_CODE = re.compile(r"^\s*(1[0-2]|[1-9])\s*([ABab])\s*$")


def key_name(tonic: int, mode: str) -> str:
    """'A minor' for (9, 'minor')."""
    return f"{PITCH_CLASSES[tonic % 12]} {mode}"


def camelot(tonic: int, mode: str) -> str:
    """The Camelot code of a key: (0, 'major') -> '8B', (9, 'minor') -> '8A'."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'major' or 'minor', not {mode!r}")
    # Up a fifth (7 semitones) is one step on the wheel; C major sits at 8, a minor key at its relative major.
    start = 8 if mode == "major" else 5
    number = (start + 7 * tonic) % 12 or 12
    return f"{number}{'B' if mode == 'major' else 'A'}"


def parse_code(code: str) -> tuple[int, str]:
    """'8a' -> (8, 'A'); ValueError with what is wrong otherwise."""
    match = _CODE.match(code or "")
    if not match:
        raise ValueError(f"{code!r} is not a Camelot code (1A..12A or 1B..12B, e.g. 8A)")
    return int(match.group(1)), match.group(2).upper()


def key_of_code(code: str) -> tuple[int, str]:
    """(tonic, mode) of a Camelot code: '8A' -> (9, 'minor')."""
    number, letter = parse_code(code)
    mode = "major" if letter == "B" else "minor"
    return next((t, mode) for t in range(12) if camelot(t, mode) == f"{number}{letter}")


def compatible_codes(code: str) -> set[str]:
    """The codes that mix with ``code``: itself, +-1 with the same letter, the same number with the other."""
    number, letter = parse_code(code)
    up, down = number % 12 + 1, (number - 2) % 12 + 1
    other = "A" if letter == "B" else "B"
    return {f"{number}{letter}", f"{up}{letter}", f"{down}{letter}", f"{number}{other}"}


def compatible(code_a: str, code_b: str) -> bool:
    return parse_code(code_b) in {parse_code(c) for c in compatible_codes(code_a)}


def label(tonic: Optional[int], mode: Optional[str]) -> str:
    """What the tables show: 'A minor (8A)', or '' when the key is unknown."""
    if tonic is None or mode is None:
        return ""
    return f"{key_name(tonic, mode)} ({camelot(tonic, mode)})"
