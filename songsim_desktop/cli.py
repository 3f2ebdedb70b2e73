"""``songsim``: the headless command line on the same core as the GUI (core.service).

Results go to stdout, progress and errors to stderr (so ``songsim query --json ... | jq`` works).
Exit codes: 0 all good; 1 finished but some files failed; 2 usage error; 3 fatal error;
130 cancelled by Ctrl-C (work committed so far is kept; running the command again resumes).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sys
import time
from typing import Optional, TextIO

from songsim_desktop import cli_aspects, cli_sections, training  # training: the entry point only: torch is imported by training.fine_tune

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_FATAL, EXIT_CANCELLED = 0, 1, 2, 3, 130
# Without a terminal (a log file, CI), one progress line every this many seconds.
PLAIN_PROGRESS_EVERY_S = 5.0


class ProgressPrinter:
    """One updating line on a terminal; otherwise a line every few seconds (and the last one)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self._last = 0.0
        self._width = 0
        self._pending = None

    def __call__(self, progress) -> None:
        line = progress.line()
        if self.tty:
            text = line[:200]
            self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
            self._width = len(text)
            self.stream.flush()
            return
        now = time.monotonic()
        self._pending = line
        if now - self._last >= PLAIN_PROGRESS_EVERY_S or (progress.total and progress.done >= progress.total):
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last, self._pending = now, None

    def finish(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
        elif self._pending:
            self.stream.write(self._pending + "\n")
        self.stream.flush()
        self._width, self._pending = 0, None


class _Interrupts:
    """First Ctrl-C asks the job to stop at its next step (keeping committed work); the second kills."""

    def __init__(self, cancel):
        self.cancel = cancel
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.cancel.cancelled:
            raise KeyboardInterrupt
        self.cancel.cancel()
        sys.stderr.write("\nstopping after the current file (Ctrl-C again to quit at once)...\n")

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread (main() called from a test or an embedding app)
            self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# More matches than anyone reads; a bigger -k (say 1e20) is a typo, refused rather than obeyed.
MAX_K = 10_000
DATA_DIR_HELP = "library data folder (default: per-user folder, or $SONGSIM_DATA_DIR)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="songsim", description="Find the songs in your library that sound alike.")
    parser.add_argument("--data-dir", metavar="D", help=DATA_DIR_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("index", help="add music folders and scan them (incremental; resumes)")
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (0 = in this process)")

    p = sub.add_parser("query", help="list the library tracks that sound most like FILE")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-k", type=int, default=10, help="how many matches (default 10)")
    p.add_argument("--json", action="store_true", help="one JSON line per reference")
    cli_sections.add_query_options(p)
    cli_aspects.add_query_options(p)

    p = sub.add_parser("export-vectors", help="write every track vector of the active model to an .npz")
    p.add_argument("--out", required=True, metavar="FILE.npz")

    p = sub.add_parser("status", help="tracks by state, the active model, the files that failed")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("models", help="list models; 'models activate ID' switches and re-embeds")
    p.add_argument("action", nargs="?", choices=["list", "activate"], default="list")
    p.add_argument("model_id", nargs="?", metavar="ID")

    p = sub.add_parser("train", help="fine-tune the model on your tags (needs the 'train' extra)")
    p.add_argument("--tags", metavar="FILE.csv", help="CSV with columns path,tags (tags split by ';')")
    p.add_argument("--judgements", action="store_true", help="learn from the stored judgements (with --tags: both)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--loss", choices=training.LOSSES, default=None)

    sub.add_parser("self-test", help="index and query a synthesised library; prints PASS or FAIL")
    for module in _command_modules():
        module.add_commands(sub)
    # Every command takes --data-dir after its name too; SUPPRESS keeps one given before it.
    for command_parser in sub.choices.values():
        command_parser.add_argument("--data-dir", metavar="D", default=argparse.SUPPRESS, help=DATA_DIR_HELP)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    # A file name that is not UTF-8 is printed as its own bytes (a terminal shows them as it shows
    # them in `ls`; a pipe gets the exact name back) instead of failing the whole command.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits 2 on usage errors, 0 on --help
        return int(stop.code or 0)
    if args.command == "self-test":
        from songsim_desktop import selftest

        return selftest.main()
    from songsim_desktop.core.progress import CancelToken
    from songsim_desktop.errors import Cancelled, SongsimError

    cancel = CancelToken()
    service = None
    try:
        from songsim_desktop.core.service import SongsimService

        service = SongsimService(args.data_dir)
        with _Interrupts(cancel):
            return _handler(args.command)(service, args, cancel)
    except UsageError as err:
        _error(str(err))
        return EXIT_USAGE
    except (Cancelled, KeyboardInterrupt):
        _error("cancelled; the work committed so far is kept (run the command again to resume)")
        return EXIT_CANCELLED
    except SongsimError as err:
        _error(str(err))
        return EXIT_FATAL
    except Exception as err:  # noqa: BLE001 - a clear line beats a traceback for users
        _error(f"unexpected {type(err).__name__}: {err}")
        if os.environ.get("SONGSIM_DEBUG"):
            raise
        return EXIT_FATAL
    finally:
        if service is not None:
            service.close()


class UsageError(Exception):
    pass


def _error(message: str) -> None:
    sys.stderr.write(f"songsim: error: {message}\n")
    sys.stderr.flush()


def _run(job, cancel):
    from songsim_desktop.core.progress import drive

    from songsim_desktop.errors import Cancelled

    printer = ProgressPrinter(sys.stderr)
    try:
        result = drive(job, printer, cancel)
    finally:
        printer.finish()
    if getattr(result, "cancelled", False):  # stopped between two yields: still a cancel for the user
        raise Cancelled()
    return result


def upgrade_default_first(service, cancel) -> None:
    """After an update that ships a new default model: re-embed with it before writing anything else."""
    if service.default_upgrade_from is not None:
        sys.stderr.write(f"songsim: the default model changed: re-embedding the library with "
                         f"{service.default_model_id} (queries use the old vectors until it is done)\n")
        _run(service.upgrade_default_job(cancel), cancel)


def cmd_index(service, args, cancel) -> int:
    missing = [d for d in args.dirs if not os.path.isdir(d)]
    if missing:
        raise UsageError("; ".join(f"while adding music folder {d}: not a folder" for d in missing))
    upgrade_default_first(service, cancel)
    failed = 0
    for folder in args.dirs:
        report = _run(service.scan_job(folder, cancel, args.workers), cancel)
        for path, reason in report.failed:
            _error(reason if path in reason else f"{path}: {reason}")
        failed += len(report.failed)
        for _path, note in report.notes:
            sys.stderr.write(f"songsim: note: {note}\n")
        print(f"{folder}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
              f"{report.missing} missing, {len(report.failed)} failed")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def cmd_query(service, args, cancel) -> int:
    from songsim_desktop.errors import SongsimError

    if not 1 <= args.k <= MAX_K:
        raise UsageError(f"-k must be between 1 and {MAX_K}")
    if cli_sections.check_range(args):
        raise UsageError(cli_sections.check_range(args))
    cli_aspects.check_options(args)
    failed = 0
    for ref in args.files:
        try:
            result = (cli_aspects.query(service, ref, args) if cli_aspects.wants_aspects(args)
                      else cli_sections.query(service, ref, args))
        except (SongsimError, OSError) as err:  # one bad reference must not stop the others
            failed += 1
            if not isinstance(err, SongsimError):
                err = SongsimError(err.strerror or str(err), path=ref, action="querying")
            _error(str(err))
            if args.json:
                print(json.dumps({"query": ref, "error": str(err), "results": []}, ensure_ascii=False))
            continue
        if args.json:
            results = [{"path": m.path, "distance": round(m.distance, 6), "similarity": round(m.similarity, 2),
                        "title": m.title, "artist": m.artist, **cli_sections.match_fields(m),
                        **cli_aspects.match_fields(m)} for m in result.matches]
            print(json.dumps({"query": ref, "results": results}, ensure_ascii=False))
        else:
            _print_table(ref, result)
        sys.stdout.flush()
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _print_table(ref: str, result) -> None:
    print(f"{ref}  (model {result.model_id})")
    if not result.matches:
        print("  no matches: the library is empty or nothing is indexed for this model")
    for rank, m in enumerate(result.matches, 1):
        name = " - ".join(x for x in (m.artist, m.title) if x) or os.path.basename(m.path)
        print(f"  {rank:>2}. {m.similarity:5.1f}%  d={m.distance:.3f}  {name}{cli_sections.offset_text(m)}  "
              f"[{m.path}]{cli_aspects.describe_match(m)}")
    print()


def cmd_export(service, args, cancel) -> int:
    count = service.export_vectors(args.out)
    print(f"wrote {count} vectors (model {service.active_model_id()}) to {args.out}")
    return EXIT_OK


def cmd_status(service, args, cancel) -> int:
    status = service.status()
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return EXIT_OK
    counts = status["counts"]
    print(f"data folder: {status['data_dir']}")
    print(f"model: {status['model_id']} ({status['model_name']}), {status['vectors']} tracks embedded")
    print(f"tempo and key: {status['tempo_and_key']} tracks")
    if status["to_complete"]:
        print(f"scanned by an older songsim: {status['to_complete']} tracks lack section vectors or tempo and key "
              "(the app completes them at start, or run 'songsim backfill')")
    print("folders: " + (", ".join(status["roots"]) or "none (add one with 'songsim index DIR')"))
    print("tracks: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    for path, reason in status["errors"]:
        print(f"  error: {reason}")
    return EXIT_OK


def cmd_models(service, args, cancel) -> int:
    if args.action == "list":
        for m in service.models():
            mark = "*" if m.active else " "
            kind = "built-in" if m.builtin else f"fine-tuned from {m.parent_id or '?'}"
            print(f"{mark} {m.id}  {m.name}  dim {m.dim}  {kind}  {m.created_at or ''}")
        return EXIT_OK
    if not args.model_id:
        raise UsageError("models activate needs a model ID (see 'songsim models')")
    matches = [m.id for m in service.models() if m.id.startswith(args.model_id)]
    if len(matches) != 1:
        raise UsageError(f"{'no' if not matches else 'more than one'} model id starts with {args.model_id!r}")
    report = _run(service.switch_model_job(matches[0], cancel), cancel)  # re-embeds, then activates
    for path, reason in report.failed:
        _error(reason)
    print(f"active model {matches[0]}: {report.embedded} tracks embedded ({report.from_cache} from the features "
          f"cache, {report.decoded} decoded), {report.skipped} already had vectors")
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


def read_tags_csv(path: str) -> list[tuple[str, list[str]]]:
    """Rows (path, tags) of a CSV with columns path,tags; several tags separated by ';' (or any
    separator core.metadata.split_tags knows: ',', '/', '|')."""
    from songsim_desktop.core.metadata import split_tags

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"path", "tags"} <= {f.strip() for f in reader.fieldnames}:
                raise UsageError(f"while reading {path}: expected CSV columns 'path' and 'tags'")
            rows = []
            for row in reader:
                row = {k.strip(): (v or "") for k, v in row.items() if k}
                tags = split_tags(row["tags"])
                if row["path"].strip():
                    rows.append((row["path"].strip(), tags))
            return rows
    except OSError as err:
        raise UsageError(f"while reading {path}: {err.strerror or err}") from None


def cmd_train(service, args, cancel) -> int:
    if not args.tags and not args.judgements:
        raise UsageError("train needs --tags FILE.csv, --judgements, or both")
    rows = read_tags_csv(args.tags) if args.tags else []
    base = os.path.dirname(os.path.abspath(args.tags or "."))
    failed = 0
    tags_of: dict[int, list[str]] = {}
    for path, tags in rows:
        full = path if os.path.isabs(path) else os.path.join(base, path)
        track = service.library.track_by_path(os.path.realpath(full)) or service.library.track_by_path(full)
        if track is None:
            failed += 1
            _error(f"while reading tags for {path}: not in the library (index its folder first)")
            continue
        tags_of[track.id] = tags
    service.library.set_tags(tags_of, "user")
    config = training.TrainConfig(use_tags=bool(args.tags), use_judgements=args.judgements)
    if args.epochs is not None:
        config.epochs = args.epochs
    if args.loss is not None:
        config.loss = args.loss
    try:
        config.validate()
    except ValueError as err:
        raise UsageError(str(err)) from None
    report = _run(service.train_job(config, training.fine_tune, cancel), cancel)
    model_id = getattr(report, "model_id", None)
    print(f"trained model {model_id}: {json.dumps(getattr(report, 'metrics', {}) or {}, default=str)}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


COMMANDS = {
    "index": cmd_index, "query": cmd_query, "export-vectors": cmd_export, "status": cmd_status,
    "models": cmd_models, "train": cmd_train,
}


# Commands of a feature live in their own module (cli_<feature>.py) so this one stays the frame:
# each module has ``add_commands(subparsers)`` and a ``COMMANDS`` dict of name -> handler(service,
# args, cancel).  Adding a feature's commands is one line here.
COMMAND_MODULES: list[str] = [
    "songsim_desktop.cli_judgements",
    "songsim_desktop.cli_duplicates",
    "songsim_desktop.cli_backfill",
]


def _command_modules():
    import importlib

    return [importlib.import_module(name) for name in COMMAND_MODULES]


def _handler(command: str):
    if command in COMMANDS:
        return COMMANDS[command]
    for module in _command_modules():
        if command in module.COMMANDS:
            return module.COMMANDS[command]
    raise UsageError(f"unknown command {command}")


if __name__ == "__main__":  # python -m songsim_desktop.cli (the spawn pool needs this guard)
    sys.exit(main())
