"""Section search in the CLI (issue 10): options of ``songsim query`` and its JSON fields.

``songsim query FILE --start 30 --end 45 [--include-self]`` ranks the library by its tracks' best
part against that range of FILE; a reference of at most ``SHORT_CLIP_S`` seconds (a clip) is
from outside the library is matched by section automatically.  Each JSON result gains ``offset`` (start, in seconds, of the
result's best-matching part) and ``section_distance`` (null for a whole-track query).
"""

from __future__ import annotations

import argparse

SHORT_CLIP_S = 30.0


def add_query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", type=float, default=None, metavar="SECONDS",
                        help="search by the part of FILE from here (section search)")
    parser.add_argument("--end", type=float, default=None, metavar="SECONDS",
                        help="search by the part of FILE up to here (section search)")
    parser.add_argument("--include-self", action="store_true",
                        help="with --start/--end: also find where FILE itself repeats that part")


def wants_sections(args) -> bool:
    return args.start is not None or args.end is not None or args.include_self


def check_range(args) -> str | None:
    """A usage problem with --start/--end, or None."""
    if (args.start is not None and args.start < 0) or (args.end is not None and args.end <= 0):
        return "--start must be >= 0 and --end > 0 (seconds)"
    if args.start is not None and args.end is not None and args.end <= args.start:
        return "--end must be after --start"
    return None


def is_short_clip(path: str) -> bool:
    """Whether ``path`` is a clip short enough to be matched by section (unreadable: no)."""
    from songsim_desktop.core import audio
    from songsim_desktop.errors import DecodeError

    try:
        return audio.probe(path).duration_s <= SHORT_CLIP_S
    except (DecodeError, OSError):
        return False  # the whole-track query reports the error in its usual words


def query(service, ref: str, args):
    """The QueryResult for one reference: by section when asked for, or when it is a short clip
    from outside the library (a library track is compared as a whole unless a range is given:
    a sample library's one-shots are short and are best compared whole)."""
    import os

    outside = service.library.track_by_path(os.path.realpath(ref)) is None
    if wants_sections(args) or (outside and is_short_clip(ref)):
        return service.query_section(ref, args.start, args.end, k=args.k, include_self=args.include_self)
    return service.query_file(ref, k=args.k)


def match_fields(m) -> dict:
    """The section fields of one JSON result."""
    return {"offset": m.offset, "section_distance": None if m.section_distance is None
            else round(float(m.section_distance), 6)}


def offset_text(m) -> str:
    """' @1:24-1:36' for a section match, '' otherwise (the table output)."""
    if m.offset is None:
        return ""
    end = m.offset + (m.section_length or 0.0)
    return f"  @{clock(m.offset)}-{clock(end)}"


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"
