"""`songsim duplicates [--json] [--export FILE]`: groups of files holding one recording.

Prints each group (keeper first, marked ``keep``) with the reason it was grouped; ``--json`` prints
the whole report as one JSON document; ``--export`` also writes it (``.json`` or CSV).  Nothing is
deleted or moved.  ``--not-duplicates FILE FILE...`` remembers that those files are different
recordings, so later searches never group them again.
"""

from __future__ import annotations

import json
import sys

from songsim_desktop.cli import EXIT_OK, EXIT_SOME_FAILED, _run


def add_commands(sub) -> None:
    p = sub.add_parser("duplicates", help="find files holding the same recording (never deletes or moves)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--export", metavar="FILE", help="also write the report to FILE (.json, else CSV)")
    p.add_argument("--not-duplicates", nargs="+", metavar="FILE",
                   help="remember that these files are not duplicates of one another, then search")


def cmd_duplicates(service, args, cancel) -> int:
    if args.not_duplicates:
        service.mark_not_duplicates(args.not_duplicates)
    report = _run(service.duplicates_job(cancel), cancel)
    if args.export:
        report.export(args.export)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for number, group in enumerate(report.groups, 1):
            print(f"group {number}: {group.reason()}")
            for copy in group.copies:
                mark = "keep" if copy.track_id == group.keeper_id else "    "
                print(f"  {mark}  {copy.path}  [{copy.format} {copy.bitrate_kbps:.0f} kb/s {copy.sample_rate} Hz "
                      f"{copy.duration_s:.1f} s]")
        print(f"{len(report.groups)} groups ({report.candidates} candidate pairs, {report.confirmed} confirmed, "
              f"{report.ignored} marked not duplicates)")
    for path, why in report.failed:
        print(f"songsim: {why}", file=sys.stderr)
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


COMMANDS = {"duplicates": cmd_duplicates}
