"""Size and start-up time of the bundle against the venv install, measured in the same run.

    .venv/bin/python packaging/measure_bundle.py [--bundle packaging/dist/songsim] [--runs 5]

Prints a Markdown block for the "Bundle" section of docs/benchmarks.md. Every timing is the median
of --runs runs and is given next to a reference measured in the same run on the same machine
(`python -c 'import songsim_desktop'` in the venv), because absolute times on a shared machine mean
little. The GUI is timed "to idle": started offscreen, it counts as up when its CPU time stops growing
for IDLE_S seconds (window built, first data fetched), read from /proc.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
IDLE_S = 1.5
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **extra}


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process and its reaped children (fields 14-17 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15])


def time_command(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=300)
    return time.perf_counter() - start


def time_gui_to_idle(cmd: list[str], env: dict[str, str], limit_s: float = 120.0) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        last_ticks, last_change = -1, start
        while time.perf_counter() - start < limit_s:
            if proc.poll() is not None:
                raise RuntimeError(f"while timing {cmd[0]}: it exited with {proc.returncode}")
            ticks = _cpu_ticks(proc.pid)
            now = time.perf_counter()
            if ticks != last_ticks:
                last_ticks, last_change = ticks, now
            elif now - last_change >= IDLE_S:
                return last_change - start
            time.sleep(0.02)
        raise RuntimeError(f"while timing {cmd[0]}: still busy after {limit_s} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def median_of(runs: int, fn, *args) -> float:
    fn(*args)  # warm the page cache: the first run reads the files from disk
    return statistics.median(fn(*args) for _ in range(runs))


def du_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "packaging" / "dist" / "songsim")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bundle = args.bundle.resolve()
    with tempfile.TemporaryDirectory(prefix="songsim-measure-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = _clean_env(home)
        gui_env = _clean_env(home, QT_QPA_PLATFORM="offscreen", SONGSIM_DATA_DIR=str(Path(tmp) / "data"))
        venv_env = {**os.environ, "HOME": str(home)}
        venv_gui_env = {**venv_env, "QT_QPA_PLATFORM": "offscreen", "SONGSIM_DATA_DIR": str(Path(tmp) / "data")}
        rows = [
            ("reference: venv `python -c 'import songsim_desktop'`",
             median_of(args.runs, time_command, [sys.executable, "-c", "import songsim_desktop"], venv_env)),
            ("venv `songsim --help`", median_of(args.runs, time_command, [str(VENV_BIN / "songsim"), "--help"], venv_env)),
            ("bundle `songsim --help`", median_of(args.runs, time_command, [str(bundle / "songsim"), "--help"], env)),
            ("venv `songsim self-test`", median_of(args.runs, time_command, [str(VENV_BIN / "songsim"), "self-test"], venv_env)),
            ("bundle `songsim self-test`", median_of(args.runs, time_command, [str(bundle / "songsim"), "self-test"], env)),
            ("venv GUI to idle (`python -m songsim_desktop`)",
             median_of(args.runs, time_gui_to_idle, [sys.executable, "-m", "songsim_desktop"], venv_gui_env)),
            ("bundle GUI to idle (`songsim-desktop`)",
             median_of(args.runs, time_gui_to_idle, [str(bundle / "songsim-desktop")], gui_env)),
        ]
    reference = rows[0][1]
    internal = bundle / "_internal"
    parts = sorted(((du_bytes(p) if p.is_dir() else p.stat().st_size, p.name) for p in internal.iterdir()),
                   reverse=True)[:8]
    tarballs = sorted(bundle.parent.glob("songsim-*.tar.gz"))
    print(f"Bundle: `{bundle.relative_to(REPO) if bundle.is_relative_to(REPO) else bundle}`, "
          f"{du_bytes(bundle) / 2**20:.0f} MiB on disk, {sum(1 for _ in bundle.rglob('*'))} files"
          + (f"; archive `{tarballs[-1].name}` {tarballs[-1].stat().st_size / 2**20:.0f} MiB" if tarballs else ""))
    print("Largest parts of `_internal/`: " + ", ".join(f"{n} {s / 2**20:.0f} MiB" for s, n in parts))
    print()
    print(f"| start-up (median of {args.runs}, after one warm-up run) | seconds | x reference |")
    print("| --- | ---: | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / reference:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
