"""CLI of issue 12: query's --aspects, --bpm, --key-compatible and the tempo/key of results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from songsim_desktop import cli
from songsim_desktop.core import synth_music

SR = 22050
TRACKS = {"a96_C": (96.0, 0, "major"), "b150_C": (150.0, 0, "major"), "c122_Am": (122.0, 9, "minor"),
          "d120_Fs": (120.0, 6, "major")}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli_aspects")
    (base / "music").mkdir()
    for name, (bpm, tonic, mode) in TRACKS.items():
        sf.write(str(base / "music" / f"{name}.wav"), synth_music.mix(bpm, tonic, mode, seconds=14.0, sr=SR), SR)
    data = base / "data"
    assert cli.main(["--data-dir", str(data), "index", str(base / "music"), "--workers", "0"]) == 0
    return base, data


def query_json(data, capsys, *options) -> list[dict]:
    capsys.readouterr()
    code = cli.main(["--data-dir", str(data), "query", *options, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1
    return json.loads(out[0])["results"]


def name(result: dict) -> str:
    return result["path"].rsplit("/", 1)[-1][:-4]


def test_json_results_carry_tempo_and_key(indexed, capsys):
    base, data = indexed
    results = query_json(data, capsys, str(base / "music" / "a96_C.wav"))
    by_name = {name(r): r for r in results}
    assert abs(by_name["c122_Am"]["tempo"] - 122.0) < 5 and by_name["c122_Am"]["key"] == "A minor"
    assert by_name["d120_Fs"]["key"] == "F# major"


def test_bpm_range_and_key_compatibility_filter_the_results(indexed, capsys):
    base, data = indexed
    ref = str(base / "music" / "b150_C.wav")
    assert sorted(name(r) for r in query_json(data, capsys, ref, "--bpm", "118-126")) == ["c122_Am", "d120_Fs"]
    # C major (8B) mixes with A minor (8A) and not with F# major (2B); the reference itself is never a result
    assert [name(r) for r in query_json(data, capsys, ref, "--bpm", "118-126", "--key-compatible")] == ["c122_Am"]
    assert [name(r) for r in query_json(data, capsys, ref, "--key-compatible", "2B")] == ["d120_Fs"]
    assert sorted(name(r) for r in query_json(data, capsys, ref, "--bpm", "45-50", "--octave-aware")) == ["a96_C"]


def test_aspect_weights_reorder_the_results(indexed, capsys):
    base, data = indexed
    ref = str(base / "music" / "a96_C.wav")
    assert name(query_json(data, capsys, ref, "--aspects", "harmony=1")[0]) == "b150_C"
    rhythm_first = name(query_json(data, capsys, ref, "--aspects", "sound=0,rhythm=1")[0])
    assert rhythm_first in ("c122_Am", "d120_Fs")  # the nearest tempi to 96 (150 is far)


def test_table_status_and_export_show_tempo_and_key(indexed, capsys, tmp_path):
    base, data = indexed
    capsys.readouterr()
    assert cli.main(["--data-dir", str(data), "query", str(base / "music" / "a96_C.wav")]) == 0
    assert "A minor (8A)" in capsys.readouterr().out
    assert cli.main(["--data-dir", str(data), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tempo_and_key"] == len(TRACKS)
    out = tmp_path / "v.npz"
    assert cli.main(["--data-dir", str(data), "export-vectors", "--out", str(out)]) == 0
    exported = np.load(out)
    keys = dict(zip((p.rsplit("/", 1)[-1][:-4] for p in exported["paths"]), exported["key"]))
    assert keys["c122_Am"] == "A minor (8A)" and np.isfinite(exported["tempo"]).all()


@pytest.mark.parametrize("options", [["--aspects", "tempo=1"], ["--bpm", "fast"], ["--key-compatible", "13C"]])
def test_bad_aspect_options_are_usage_errors(indexed, capsys, options):
    base, data = indexed
    assert cli.main(["--data-dir", str(data), "query", str(base / "music" / "a96_C.wav"), *options]) == 2
    assert capsys.readouterr().err.strip()
