"""`songsim self-test`: a headless end-to-end check of an installation, in one line.

It is what a user (or `packaging/check_bundle.sh`) runs to learn whether *this* install works: the
decoders, the feature front end, the shipped model under onnxruntime, the database, the process pool
and the vector index.  It synthesises a few short tracks of three distinct families in a temporary
folder, indexes them with a service whose data folder is also temporary (the user's library is never
touched), queries them, and prints exactly one line:

    songsim self-test: PASS (6 tracks indexed in 3.1 s, ...)
    songsim self-test: FAIL: <what failed, on which file, while doing what>

Every failure, including a missing module in a broken bundle, becomes the FAIL line and exit code 1,
never a traceback: the line is the whole interface.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, TextIO

PASS_PREFIX = "songsim self-test: PASS"
FAIL_PREFIX = "songsim self-test: FAIL"

# Three families that differ in timbre *and* rhythm, two tracks each, in the three formats a library
# most often holds, so that every decoder the app ships is exercised.
FAMILIES = (("sine", "straight"), ("noise", "drone"), ("pluck", "sparse"))
TRACKS_PER_FAMILY = 2
SUFFIXES = (".wav", ".flac", ".mp3")
SECONDS = 8.0
DISTANCE_TOLERANCE = 1e-3  # a track queried against itself decodes and embeds to the same vector


class SelfTestFailure(Exception):
    """A check of the self-test did not hold; the message becomes the FAIL line."""


def _write_tracks(folder: Path) -> dict[Path, str]:
    """Synthesise the test library; returns {path: family name}."""
    from songsim_desktop.core import synth

    families = [synth.Family(timbre, rhythm) for timbre, rhythm in FAMILIES]
    made = synth.write_library(folder, families, TRACKS_PER_FAMILY, SECONDS, suffixes=SUFFIXES)
    return {path: family.name for path, family in made.items()}


def _same(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _check_scan(report, expected: int) -> None:
    if report.cancelled:
        raise SelfTestFailure("the scan stopped early (cancelled)")
    if report.failed:
        path, reason = report.failed[0]
        more = f" (and {len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
        raise SelfTestFailure(f"while indexing {path}: {reason}{more}")
    if report.added != expected:
        raise SelfTestFailure(f"while indexing: {report.added} of {expected} synthesised tracks were added")


def _check_matches(result, reference: Path, expect_self: bool) -> None:
    if not result.matches:
        raise SelfTestFailure(f"while querying {reference}: no matches returned")
    distances = [m.distance for m in result.matches]
    if any(not (0.0 - DISTANCE_TOLERANCE <= d <= 2.0 + DISTANCE_TOLERANCE) for d in distances):
        raise SelfTestFailure(f"while querying {reference}: distances outside [0, 2]: {distances}")
    if distances != sorted(distances):
        raise SelfTestFailure(f"while querying {reference}: matches are not sorted by distance")
    if expect_self:
        top = result.matches[0]
        if not _same(top.path, reference) or top.distance > DISTANCE_TOLERANCE:
            raise SelfTestFailure(
                f"while querying {reference}: the track itself should be the nearest match at distance 0, "
                f"got {Path(top.path).name} at {top.distance:.4f}")


def run(workers: Optional[int] = None) -> str:
    """Run every check; return the summary for the PASS line or raise with the reason."""
    from songsim_desktop.core.progress import drive
    from songsim_desktop.core.service import SongsimService

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="songsim-selftest-", ignore_cleanup_errors=True) as tmp:
        music, data = Path(tmp) / "music", Path(tmp) / "data"
        try:
            tracks = _write_tracks(music)
        except Exception as exc:  # noqa: BLE001 - any failure here is a broken install
            raise SelfTestFailure(f"while synthesising test tracks in {music}: {exc}") from exc

        service = SongsimService(data_dir=data)
        try:
            _check_scan(drive(service.scan_job(music, workers=workers)), len(tracks))
            indexed_s = time.perf_counter() - started

            reference = sorted(tracks)[0]
            by_file = service.query_file(reference, k=len(tracks))
            # query_file takes any file; when the reference is in the library it must come back first.
            listed = any(_same(m.path, reference) for m in by_file.matches)
            _check_matches(by_file, reference, expect_self=listed)

            rows = {os.path.realpath(row.path): row for row in service.tracks()}
            not_ok = [row for row in rows.values() if row.state != "ok"]
            if not_ok:
                raise SelfTestFailure(f"track {not_ok[0].path} is in state {not_ok[0].state}: {not_ok[0].error}")
            family_of = {os.path.realpath(p): f for p, f in tracks.items()}
            same_family = 0
            for path, family in tracks.items():
                row = rows[os.path.realpath(path)]
                result = service.query_track(row.id, k=len(tracks) - 1)
                if any(m.track_id == row.id for m in result.matches):
                    raise SelfTestFailure(f"while querying track {path}: the track itself was returned")
                _check_matches(result, path, expect_self=False)
                same_family += family_of.get(os.path.realpath(result.matches[0].path)) == family
        finally:
            service.close()
    total_s = time.perf_counter() - started
    return (f"{len(tracks)} tracks indexed in {indexed_s:.1f} s, "
            f"nearest is the same family for {same_family}/{len(tracks)}, "
            f"model {by_file.model_id}, {total_s:.1f} s in all")


def main(argv: Optional[list[str]] = None, out: Optional[TextIO] = None) -> int:
    """Print one PASS/FAIL line; return 0 or 1.

    ``argv`` is ``None`` when the `songsim` CLI calls it (its own arguments are not ours to parse);
    ``["--workers", "N"]`` sets the size of the decode pool (default: the service's choice).
    """
    out = out or sys.stdout
    workers = None
    args = list(argv or [])
    if args[:1] == ["--workers"] and len(args) == 2 and args[1].isdigit():
        workers = int(args[1])
    elif args:
        print(f"{FAIL_PREFIX}: usage: songsim self-test [--workers N], got {' '.join(args)}", file=out)
        return 1
    try:
        summary = run(workers=workers)
    except SelfTestFailure as exc:
        print(f"{FAIL_PREFIX}: {exc}", file=out)
        return 1
    except Exception as exc:  # noqa: BLE001 - the one line must say what broke, not a traceback
        print(f"{FAIL_PREFIX}: {type(exc).__name__}: {exc}".replace("\n", " "), file=out)
        return 1
    print(f"{PASS_PREFIX} ({summary})", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
