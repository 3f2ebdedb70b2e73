"""CLI for issue 12: the ``query`` command's aspect weights and tempo/key filters, and the tempo and
key of each result (``songsim query FILE --aspects sound=1,rhythm=0.5 --bpm 118-126 --key-compatible``).

The options belong to ``query`` (cli.py adds them with :func:`add_query_options`); this module has
no commands of its own.
"""

from __future__ import annotations

import argparse

QUERY_KEY = "query"  # --key-compatible without a code: compatible with the query's own key


def add_commands(subparsers) -> None:
    """No commands of its own (the seam's interface)."""


COMMANDS: dict = {}


def add_query_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aspects", metavar="W", default=None,
                   help="similar in what way: weights of sound, rhythm and harmony, e.g. sound=1,rhythm=0.5,harmony=0")
    p.add_argument("--bpm", metavar="LO-HI", default=None, help="only results with a tempo in this range, e.g. 118-126")
    p.add_argument("--octave-aware", action="store_true", help="--bpm also accepts half and double tempo")
    p.add_argument("--key-compatible", metavar="CODE", nargs="?", const=QUERY_KEY, default=None,
                   help="only keys that mix with this Camelot code (e.g. 8A), or with the query's key when no "
                        "code is given: the same code, +-1, or the relative major/minor")
    p.add_argument("--match-tempo-and-key", action="store_true",
                   help="preset: within 6%% of the query's tempo (half/double counts) and in a compatible key")


def wants_aspects(args) -> bool:
    return bool(args.aspects or args.bpm or args.key_compatible or args.match_tempo_and_key)


def check_options(args) -> None:
    """Parse the options before any work, so a typo fails at once (UsageError from cli.py)."""
    from songsim_desktop.cli import UsageError
    from songsim_desktop.core.descriptors import camelot
    from songsim_desktop.core.search import aspects

    try:
        args.aspect_weights = aspects.AspectWeights.parse(args.aspects) if args.aspects else aspects.AspectWeights()
        args.bpm_range = aspects.parse_bpm_range(args.bpm) if args.bpm else None
        if args.key_compatible not in (None, QUERY_KEY):
            camelot.parse_code(args.key_compatible)
    except ValueError as err:
        raise UsageError(str(err)) from None


def query(service, ref: str, args):
    """The query's result: the plain nearest tracks, or re-ranked and filtered by the aspect options."""
    from songsim_desktop.core.reports import QueryResult
    from songsim_desktop.core.search import aspects

    if not wants_aspects(args):
        return service.query_file(ref, k=args.k)
    candidates = service.aspect_candidates(ref)
    code = candidates.query.code if args.key_compatible == QUERY_KEY else args.key_compatible
    if args.match_tempo_and_key:
        track_filter = aspects.match_tempo_and_key(candidates.query.tempo, candidates.query.code)
    else:
        track_filter = aspects.TrackFilter(args.bpm_range, args.octave_aware, code)
    if args.key_compatible == QUERY_KEY and code is None:
        from songsim_desktop.errors import SongsimError

        raise SongsimError("it has no key to be compatible with (too short, silent or not tonal); give a "
                           "Camelot code: --key-compatible 8A", path=ref, action="querying")
    return QueryResult(ref, service.active_model_id(), candidates.rank(args.aspect_weights, track_filter, args.k))


def match_fields(m) -> dict:
    """The tempo and key of one result, for --json (None when not known)."""
    return {"tempo": None if m.tempo is None else round(m.tempo, 1), "key": m.key}


def describe_match(m) -> str:
    """'  121.0 BPM  A minor (8A)' to end a table row, '' when neither is known."""
    from songsim_desktop.core.descriptors import camelot

    parts = []
    if m.tempo:
        parts.append(f"{m.tempo:5.1f} BPM")
    if m.key:
        tonic, mode = m.key.split(" ")
        parts.append(camelot.label(camelot.PITCH_CLASSES.index(tonic), mode))
    return "".join("  " + p for p in parts)
