"""The slow fault checks of issue 14, run through the real ``songsim`` command line.

    .venv/bin/python bench/faults.py [--tracks 24] [--kills 12] [--seed 0] [--no-train]

In a fresh temporary folder:
1. bad input: a music folder holding every kind of bad file the fault suite knows (tests/faults)
   beside good ones is indexed; a crash is an exit code other than 0/1 or a traceback; every bad
   file must end as a per-file error (or, for the recoverable kinds, indexed).
2. kill -9: a clean scan of ``--tracks`` synthesised tracks gives the reference vectors; then a
   second data folder is scanned ``--kills`` times, each run killed (SIGKILL, no cleanup) after a
   random delay within the clean scan's duration; after each kill ``PRAGMA integrity_check`` must
   say ok; a final run resumes, and its vectors must equal the reference's bit for bit.
3. the music folder: sha256, size, mode and mtime of every entry before and after scan, query,
   fine-tune (``songsim train``, one epoch) and the rest; any difference is bytes written.
4. two writers: two ``songsim index`` runs started at once on one new data folder.
5. read-only library: ``status`` and ``query`` on a copy of the library mounted read-only
   (``unshare -rm`` + a read-only bind mount, so that it holds even for root).
Prints a Markdown table (the one in docs/benchmarks.md) and exits 1 if any row is not survived.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the fault suite's file writers: one definition of each bad kind

from songsim_desktop.core import synth  # noqa: E402

FAMILIES = synth.all_families()[::3][:4]


# The CLI with small commit batches, so that kills land between commits of a small library.
SMALL_BATCHES = ("import sys; from songsim_desktop.core import jobs; jobs.COMMIT_EVERY = 2\n"
                 "from songsim_desktop import cli\nif __name__ == '__main__': sys.exit(cli.main(sys.argv[1:]))")


def _command(data: Path, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-c", SMALL_BATCHES, "--data-dir", str(data), *args]


def songsim(data: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(_command(data, args), capture_output=True, text=True, errors="replace", timeout=timeout, env=env)


def start(data: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(_command(data, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", env=env)


def crashed(run) -> bool:
    return run.returncode not in (0, 1) or "Traceback" in run.stderr


def tree_state(folder: Path) -> dict[bytes, tuple]:
    """Every entry under ``folder`` (names as bytes: non-UTF-8 ones too): type, size, mode, mtime, sha256."""
    out = {}
    top = os.fsencode(folder)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(path, top)] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def bytes_changed(before: dict, after: dict) -> int:
    """Bytes of every entry added, removed or altered (an altered file counts its whole size)."""
    return sum(max(before.get(k, (0, 0))[1], after.get(k, (0, 0))[1])
               for k in set(before) | set(after) if before.get(k) != after.get(k))


def integrity(data: Path) -> str:
    with sqlite3.connect(data / "library.sqlite3") as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def vectors_by_path(data: Path) -> dict[str, bytes]:
    with sqlite3.connect(data / "library.sqlite3") as conn:
        rows = conn.execute("SELECT t.path, v.model_id, v.vector FROM vectors v JOIN tracks t ON t.id = v.track_id")
        return {f"{path}|{model}": blob for path, model, blob in rows}


def write_bad_files(folder: Path) -> dict[str, str]:
    """Every kind of bad input of the fault suite; returns {name: path}."""
    from core.audio_factory import BAD_FILE_WRITERS, write_truncated
    from faults.test_decode_faults import float_wav_with, random_data_chunk

    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, (writer, suffix, _words) in BAD_FILE_WRITERS.items():
        made[name] = writer(folder / (name.replace(" ", "_") + suffix))
    made["NaN samples"] = float_wav_with(folder / "nan.wav", np.nan)
    made["infinite samples"] = float_wav_with(folder / "inf.wav", np.inf)
    made["random data chunk"] = random_data_chunk(folder / "scrambled.wav")
    dc = folder / "dc.wav"
    sf.write(str(dc), np.full(22050 * 4, 0.5, np.float32), 22050, subtype="FLOAT")
    made["constant DC"] = dc
    for suffix in (".flac", ".mp3", ".ogg", ".wav"):
        path = synth.write_track(folder / f"half{suffix}", FAMILIES[0], 30.0)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        made[f"{suffix[1:].upper()} cut in half"] = path
    made["truncated WAV (tests)"] = write_truncated(folder / "half-download.flac", 6.0, 0.5)
    loop = folder / "loop.mp3"
    os.symlink(loop, loop)
    made["symlink loop"] = loop
    os.symlink(folder, folder / "folder-loop")
    made["folder symlink loop"] = folder / "folder-loop"
    (folder / "a-folder.wav").mkdir()
    made["folder named .wav"] = folder / "a-folder.wav"
    raw = os.path.join(os.fsencode(folder), b"latin1-\xe9t\xe9.wav")
    os.rename(synth.write_track(folder / "latin1.wav", FAMILIES[1], 6.5), raw)  # libsndfile cannot write it
    made["non-UTF-8 file name"] = Path(os.fsdecode(raw))
    return {k: str(v) for k, v in made.items()}


def check_bad_input(tmp: Path) -> dict:
    music = tmp / "bad-music"
    synth.write_library(music / "good", FAMILIES[:2], 2, 6.5)
    bad = write_bad_files(music / "bad")
    data = tmp / "bad-data"
    run = songsim(data, "index", str(music), "--workers", "2")
    status = songsim(data, "status", "--json")
    ok = json.loads(status.stdout) if status.returncode == 0 else {}
    query = songsim(data, "query", *[bad[k] for k in ("NaN samples", "symlink loop")], str(next(music.glob("good/*/*"))))
    return {"kinds": len(bad), "crashes": sum(crashed(r) for r in (run, status, query)),
            "index_exit": run.returncode, "errors": len(ok.get("errors", [])), "counts": ok.get("counts"),
            "query_exit": query.returncode, "stderr_tail": (run.stderr + status.stderr + query.stderr)[-1500:]}


def check_kills(music: Path, tmp: Path, kills: int, seed: int) -> dict:
    reference = tmp / "ref-data"
    began = time.monotonic()
    run = songsim(reference, "index", str(music), "--workers", "1")
    clean_s = time.monotonic() - began
    assert run.returncode == 0, run.stderr
    rng = random.Random(seed)
    data = tmp / "killed-data"
    survived, finished_first, delays = 0, 0, []
    for _ in range(4 * kills):
        if len(delays) >= kills:
            break
        delay = rng.uniform(0.05, 0.8) * clean_s
        proc = start(data, "index", str(music), "--workers", "1")
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            delays.append(round(delay, 1))
        proc.communicate()
        if (data / "library.sqlite3").exists() and integrity(data) == "ok":
            survived += 1
        if proc.returncode != -signal.SIGKILL:
            # finished before its kill: nothing is left to interrupt, so kill a fresh scan next
            finished_first += 1
            shutil.rmtree(data)
    resume = songsim(data, "index", str(music), "--workers", "1")
    ref_vectors, got = vectors_by_path(reference), vectors_by_path(data)
    identical = resume.returncode == 0 and ref_vectors == got
    return {"kills": len(delays), "survived": survived, "finished_before_kill": finished_first,
            "delays_s": delays, "clean_scan_s": round(clean_s, 1), "resume_exit": resume.returncode,
            "vectors": len(got), "identical": identical, "integrity_after_resume": integrity(data)}


def check_music_untouched(music: Path, tmp: Path, train: bool) -> dict:
    before = tree_state(music)
    data = tmp / "ref-data"  # already scanned by check_kills: rescan, query, tag, fine-tune, export
    steps = {"rescan": songsim(data, "index", str(music), "--workers", "2")}
    refs = sorted(str(p) for p in music.rglob("*.*"))[:3]
    steps["query"] = songsim(data, "query", *refs, "-k", "5")
    steps["status"] = songsim(data, "status")
    steps["export"] = songsim(data, "export-vectors", "--out", str(tmp / "vectors.npz"))
    if train:
        tags = tmp / "tags.csv"
        rows = [f"{p},{Path(p).parent.name}" for p in sorted(str(p) for p in music.rglob("*.*"))]
        tags.write_text("path,tags\n" + "\n".join(rows) + "\n")
        steps["fine-tune"] = songsim(data, "train", "--tags", str(tags), "--epochs", "1", timeout=1800)
    after = tree_state(music)
    return {"steps": {k: r.returncode for k, r in steps.items()}, "crashes": sum(crashed(r) for r in steps.values()),
            "bytes_written": bytes_changed(before, after), "entries": len(before),
            "stderr_tail": "".join(r.stderr for r in steps.values() if crashed(r))[-1500:]}


def check_two_writers(music: Path, tmp: Path) -> dict:
    data = tmp / "two-writers"
    procs = [start(data, "index", str(music), "--workers", "1") for _ in range(2)]
    outs = [p.communicate() + (p.returncode,) for p in procs]
    with sqlite3.connect(data / "library.sqlite3") as conn:
        tracks = conn.execute("SELECT COUNT(*) FROM tracks WHERE state = 'ok'").fetchone()[0]
        doubled = conn.execute("SELECT COUNT(*) FROM (SELECT track_id FROM vectors GROUP BY track_id, model_id "
                               "HAVING COUNT(*) > 1)").fetchone()[0]
    added = [int(out.split(" added")[0].rsplit(" ", 1)[-1]) if " added" in out else 0 for out, _err, _rc in outs]
    # The second writer is refused with exit 3 and a clear line: that is the design, not a crash.
    refused = sum(rc == 3 and "already writing to this library" in err for _o, err, rc in outs)
    return {"exits": [rc for _o, _e, rc in outs], "refused": refused,
            "crashes": sum(rc not in (0, 1) for *_x, rc in outs) - refused,
            "integrity": integrity(data), "tracks_ok": tracks, "doubled_vectors": doubled, "added_by_each": added,
            "stderr": [err[-300:] for _o, err, _rc in outs]}


def check_read_only(music: Path, tmp: Path) -> dict:
    if shutil.which("unshare") is None:
        return {"skipped": "no unshare"}
    source = tmp / "ro-source"
    shutil.copytree(tmp / "ref-data", source)
    mount = tmp / "ro-mount"
    mount.mkdir()
    before = tree_state(source)
    ref = str(sorted(music.rglob("*.wav"))[0])
    results = {}
    for command in (("status",), ("query", ref, "-k", "3")):
        script = (f"mount --bind -o ro {source} {mount} && cd {REPO} && PYTHONPATH={REPO} "
                  f"{sys.executable} -m songsim_desktop.cli --data-dir {mount} {' '.join(command)}")
        run = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, errors="replace", timeout=600)
        results[command[0]] = {"exit": run.returncode, "stderr": run.stderr[-400:]}
    results["bytes_written"] = bytes_changed(before, tree_state(source))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=24)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-train", action="store_true", help="skip the fine-tune step (no torch)")
    parser.add_argument("--json-out", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="songsim-faults-") as name:
        tmp = Path(name)
        music = tmp / "music"
        per_family = max(1, args.tracks // len(FAMILIES))
        synth.write_library(music, FAMILIES, per_family, 8.0, suffixes=(".wav", ".flac", ".mp3", ".ogg"))
        results = {"bad_input": check_bad_input(tmp)}
        results["kills"] = check_kills(music, tmp, args.kills, args.seed)
        results["music_folder"] = check_music_untouched(music, tmp, train=not args.no_train)
        results["two_writers"] = check_two_writers(music, tmp)
        results["read_only"] = check_read_only(music, tmp)
    print(json.dumps(results, indent=1, default=str))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, default=str))
    print(table(results))
    return 0 if all(row[-1].startswith("survived") for row in rows(results)) else 1


def rows(r: dict) -> list[tuple[str, str, str, str]]:
    b, k, m, w, ro = r["bad_input"], r["kills"], r["music_folder"], r["two_writers"], r["read_only"]
    def verdict(ok: bool, why: str = "") -> str:
        return "survived, nothing lost" if ok else f"FAILED: {why}"
    return [
        ("bad input", f"{b['kinds']} kinds beside 4 good files; `index`, `status`, `query`", f"{b['crashes']} crashes",
         verdict(b["crashes"] == 0 and b["index_exit"] == 1 and b["counts"].get("ok", 0) >= 4, "see JSON")),
        ("kill -9 during a scan", f"{k['kills']} kills (delays {min(k['delays_s'] or [0])}-{max(k['delays_s'] or [0])} s "
         f"of a {k['clean_scan_s']} s scan)", f"{k['survived']}/{k['kills'] + k['finished_before_kill']} integrity ok",
         verdict(k["survived"] == k["kills"] + k["finished_before_kill"] and k["identical"],
                 "vectors differ after resume" if not k["identical"] else "integrity")),
        ("music folder", f"{m['entries']} entries hashed around " + ", ".join(m["steps"]),
         f"{m['bytes_written']} bytes written, {m['crashes']} crashes",
         verdict(m["bytes_written"] == 0 and m["crashes"] == 0, "music folder changed")),
        ("two writers", f"two `index` at once: exits {w['exits']}, added {w['added_by_each']}",
         f"{w['refused']} refused (writer lock), {w['crashes']} crashes, integrity {w['integrity']}, "
         f"{w['doubled_vectors']} doubled vectors",
         verdict(w["crashes"] == 0 and w["integrity"] == "ok" and w["doubled_vectors"] == 0
                 and sum(w["added_by_each"]) == w["tracks_ok"], "both did all the work")),
        ("read-only library", "`status`, `query` on a read-only bind mount" if "skipped" not in ro else ro["skipped"],
         f"exits {ro.get('status', {}).get('exit')}, {ro.get('query', {}).get('exit')}; "
         f"{ro.get('bytes_written', 0)} bytes written",
         verdict(ro.get("status", {}).get("exit") == 0 and ro.get("query", {}).get("exit") == 0,
                 "a read-only command failed")),
    ]


def table(r: dict) -> str:
    lines = ["| fault | what was tried | outcome | verdict |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(r)]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
