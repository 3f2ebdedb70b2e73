"""Indexing speed and memory, as ratios against decoding the same files, measured in the same run.

    .venv/bin/python bench/bench_index.py [--tracks 200] [--seconds 180] [--workers N] [--library DIR]

1. Makes (once, then reuses) a library of ``--tracks`` synthesised tracks of ``--seconds`` each
   (core.synth, one sub-folder per family) in mixed formats: WAV 44.1 kHz stereo, FLAC 48 kHz
   stereo, MP3 44.1 kHz mono, OGG/Vorbis 44.1 kHz stereo.  Default folder:
   ``~/.cache/songsim-bench/synth-<tracks>x<seconds>s``.
2. Reads every file once so both measurements below see a warm page cache.
3. Decode-only, the reference: one process decodes every file completely (soundfile read, mix to
   mono, soxr resample to the model's rate), as any tool that looks at the audio must at least do.
4. Indexing: ``SongsimService(data_dir=<fresh temp dir>).scan_job(folder, workers=...)`` driven to
   its end: walk, decode the model's crops in a process pool (``--workers``, default: every core),
   log-mel, ONNX embedding, database commits, features cache, index update.
Each measurement runs in its own child process, so the peak memory of one does not leak into the
other; peak RSS is sampled from /proc (Linux) over the process and its children (the pool).

Prints tracks/s of both, the ratio indexing time / decode-only time (lower is better; the goal is
<= 1.0) and the peak RSS of both.  ``--json`` adds one machine-readable line at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from songsim_desktop.atomic import atomic_path  # noqa: E402
from songsim_desktop.core import synth  # noqa: E402

# (suffix, sample rate, channels, soundfile format, subtype): the mix a real library has.
# MP3 is mono only because LAME needs ~25 s per stereo 3-minute file on the shared 2-core dev
# machine; decoding cost per second of audio is what matters here and mono MP3 still pays it.
KINDS = (
    (".wav", 44100, 2, "WAV", "PCM_16"),
    (".flac", 48000, 2, "FLAC", "PCM_16"),
    (".mp3", 44100, 1, "MP3", "MPEG_LAYER_III"),
    (".ogg", 44100, 2, "OGG", "VORBIS"),
)
BLOCK = 32768  # libsndfile's Vorbis encoder crashes on one huge write; feed it blocks


# -- the library -----------------------------------------------------------------------------------
def planned_files(folder: Path, n_tracks: int) -> list[tuple[Path, int]]:
    families = synth.all_families()
    out = []
    for i in range(n_tracks):
        family = families[i % len(families)]
        suffix = KINDS[i % len(KINDS)][0]
        out.append((folder / family.name / f"{i:04d}-{family.name}{suffix}", i))
    return out


def _write_one(job: tuple[str, int, float]) -> str:
    path_text, i, seconds = job
    path = Path(path_text)
    os.nice(10)  # generation is set-up, not measurement: yield the shared CPUs
    families = synth.all_families()
    suffix, sr, channels, fmt, subtype = KINDS[i % len(KINDS)]
    audio = synth.render(families[i % len(families)], seconds, sr=sr, seed=i)
    if channels == 2:
        audio = np.stack([audio, 0.9 * np.roll(audio, sr // 100)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A killed generator leaves no half file that the next run would take for a finished track.
    with atomic_path(path) as partial, sf.SoundFile(str(partial), "w", sr, channels, format=fmt,
                                                     subtype=subtype) as out:
        for start in range(0, len(audio), BLOCK):
            out.write(audio[start : start + BLOCK])
    return path_text


def make_library(folder: Path, n_tracks: int, seconds: float, jobs: int) -> list[Path]:
    planned = planned_files(folder, n_tracks)
    todo = [(str(p), i, seconds) for p, i in planned if not p.exists()]
    if todo:
        print(f"generating {len(todo)} of {n_tracks} tracks of {seconds:.0f} s in {folder} "
              f"({jobs} processes; reused by later runs)", file=sys.stderr, flush=True)
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            for done, _ in enumerate(pool.imap_unordered(_write_one, todo), 1):
                if done % 10 == 0 or done == len(todo):
                    print(f"  {done}/{len(todo)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return [p for p, _ in planned]


def warm_page_cache(files: list[Path]) -> int:
    total = 0
    for path in files:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                total += len(chunk)
    return total


# -- peak memory ---------------------------------------------------------------------------------
def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except OSError:
                kids = []
            found.extend(kids)
            stack.extend(kids)
    return found


class PeakRss:
    """Samples the RSS of this process and of the sum over it and its children every 50 ms."""

    def __init__(self):
        self.main_kib = self.tree_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        main = _rss_kib(me)
        tree = main + sum(_rss_kib(p) for p in _descendants(me))
        self.main_kib, self.tree_kib = max(self.main_kib, main), max(self.tree_kib, tree)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


# -- the two measurements (each in its own child process) ----------------------------------------
def phase_decode(files: list[Path]) -> dict:
    import soxr

    from songsim_desktop import paths
    from songsim_desktop.core.embedder import read_model_info

    rate = read_model_info(paths.default_model_path()).frontend.sample_rate
    samples = 0
    with PeakRss() as rss:
        started = time.perf_counter()
        for path in files:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
            mono = data.mean(axis=1)
            if sr != rate:
                mono = soxr.resample(mono, sr, rate)
            samples += len(mono)
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "tracks": len(files), "audio_hours": samples / rate / 3600,
            "peak_rss_mib": rss.main_kib / 1024, "peak_tree_rss_mib": rss.tree_kib / 1024}


def phase_index(folder: Path, workers: int) -> dict:
    from songsim_desktop.core.progress import drive
    from songsim_desktop.core.service import SongsimService

    with tempfile.TemporaryDirectory(prefix="songsim-bench-data-") as data_dir:
        with PeakRss() as rss:
            service = SongsimService(data_dir=data_dir)  # opening + model load: not timed
            started = time.perf_counter()
            report = drive(service.scan_job(folder, workers=workers))
            elapsed = time.perf_counter() - started
            counts = service.library.state_counts()
            service.close()
    return {"seconds": elapsed, "tracks": report.added, "failed": [list(f) for f in report.failed],
            "states": counts, "workers": workers,
            "peak_rss_mib": rss.main_kib / 1024, "peak_tree_rss_mib": rss.tree_kib / 1024}


def run_phase(args: argparse.Namespace, phase: str) -> dict:
    command = [sys.executable, __file__, "--phase", phase, "--library", str(args.library),
               "--tracks", str(args.tracks), "--seconds", str(args.seconds), "--workers", str(args.workers)]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="decode processes for indexing (default: every core)")
    parser.add_argument("--library", type=Path, default=None, help="folder of the generated tracks (reused)")
    parser.add_argument("--gen-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    parser.add_argument("--phase", choices=("decode", "index"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.library is None:
        args.library = Path.home() / ".cache" / "songsim-bench" / f"synth-{args.tracks}x{args.seconds:.0f}s"

    files = [p for p, _ in planned_files(args.library, args.tracks)]
    if args.phase == "decode":
        print(json.dumps(phase_decode(files)))
        return 0
    if args.phase == "index":
        print(json.dumps(phase_index(args.library, args.workers)))
        return 0

    make_library(args.library, args.tracks, args.seconds, args.gen_jobs)
    load_before = os.getloadavg()
    size = warm_page_cache(files)
    decode = run_phase(args, "decode")
    index = run_phase(args, "index")
    load_after = os.getloadavg()
    ratio = index["seconds"] / decode["seconds"]
    print(f"library: {args.tracks} tracks x {args.seconds:.0f} s ({decode['audio_hours']:.1f} h of audio, "
          f"{size / 2**20:.0f} MiB, WAV/FLAC/MP3/OGG) in {args.library}")
    print(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.1f} before / {load_after[0]:.1f} after")
    print(f"decode-only (1 process):     {decode['seconds']:7.1f} s  {decode['tracks'] / decode['seconds']:6.2f} tracks/s"
          f"  peak RSS {decode['peak_rss_mib']:.0f} MiB")
    print(f"indexing ({index['workers']} decode workers): {index['seconds']:7.1f} s  "
          f"{index['tracks'] / index['seconds']:6.2f} tracks/s  peak RSS {index['peak_rss_mib']:.0f} MiB main, "
          f"{index['peak_tree_rss_mib']:.0f} MiB with workers")
    print(f"ratio indexing / decode-only time: {ratio:.2f} (goal <= 1.0); "
          f"peak RSS ratio (with workers / decode): {index['peak_tree_rss_mib'] / decode['peak_rss_mib']:.2f}")
    if index["failed"] or index["tracks"] != args.tracks:
        print(f"WARNING: indexed {index['tracks']} of {args.tracks}; failures: {index['failed'][:5]}")
    if args.json:
        print(json.dumps({"tracks": args.tracks, "seconds_per_track": args.seconds, "decode": decode,
                          "index": index, "ratio": ratio, "load_before": load_before, "load_after": load_after}))
    return 0 if not index["failed"] and index["tracks"] == args.tracks else 1


if __name__ == "__main__":
    raise SystemExit(main())
