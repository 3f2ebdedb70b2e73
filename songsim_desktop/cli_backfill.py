"""`songsim backfill [--workers N]`: complete the tracks an older songsim scanned (core/backfill.py).

Gives tracks scanned before section search the active model's section vectors, and tracks scanned
before tempo and key their tempo and key, without scanning the library again (the GUI does the same
in the background at start-up).  Resumable: Ctrl-C keeps what was done and running it again goes on.
"""

from __future__ import annotations

from songsim_desktop.cli import EXIT_OK, EXIT_SOME_FAILED, _error, _run, upgrade_default_first


def add_commands(sub) -> None:
    p = sub.add_parser("backfill", help="give tracks scanned by an older songsim their section vectors, "
                                        "tempo and key (resumes)")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (0 = in this process)")


def cmd_backfill(service, args, cancel) -> int:
    upgrade_default_first(service, cancel)  # the sections are the active model's: make it the new default first
    report = _run(service.backfill_job(cancel, args.workers), cancel)
    for path, reason in report.failed:
        _error(reason if path in reason else f"{path}: {reason}")
    print(f"{report.to_do} tracks to complete: {report.sections} given section vectors ({report.from_cache} from "
          f"the features cache), {report.described} given tempo and key, {report.undescribable} too short or "
          f"silent for them, {report.decoded} decoded, {len(report.failed)} failed")
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


COMMANDS = {"backfill": cmd_backfill}
