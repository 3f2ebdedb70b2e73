"""`songsim query` by section (issue 10): --start/--end, --include-self, short clips, JSON fields."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from songsim_desktop import cli
from songsim_desktop.core import synth

SR = 22050


def test_query_by_range_and_by_short_clip(tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    families = synth.all_families()
    made = []
    for i in range(3):
        audio = np.concatenate([synth.render(families[3 * i + j], 12.0, SR, seed=i * 10 + j) for j in range(3)])
        sf.write(str(music / f"t{i}.wav"), audio, SR)
        made.append(music / f"t{i}.wav")
    data = str(tmp_path / "data")
    assert cli.main(["--data-dir", data, "index", str(music), "--workers", "0"]) == 0
    capsys.readouterr()

    # a 10 s clip from outside the library: matched by section automatically, with its offset
    audio, _ = sf.read(str(made[2]), dtype="float32")
    clip = tmp_path / "clip.wav"
    sf.write(str(clip), audio[int(14 * SR): int(24 * SR)], SR)
    assert cli.main(["--data-dir", data, "query", "--json", "-k", "2", str(clip)]) == 0
    record = json.loads(capsys.readouterr().out)
    best = record["results"][0]
    assert best["path"] == str(made[2].resolve()) and abs(best["offset"] - 14.0) <= 1.5
    assert 0 <= best["section_distance"] <= best["distance"] + 1e-6

    # a range of a library track: the track itself is left out unless --include-self
    assert cli.main(["--data-dir", data, "query", "--json", "--start", "12", "--end", "24", str(made[1])]) == 0
    paths = [h["path"] for h in json.loads(capsys.readouterr().out)["results"]]
    assert str(made[1].resolve()) not in paths and len(paths) == 2
    assert cli.main(["--data-dir", data, "query", "--start", "12", "--end", "24", "--include-self", str(made[1])]) == 0
    assert "@" in capsys.readouterr().out  # the table shows where each match is

    # a whole-track query of a library track keeps its fields, with no section
    assert cli.main(["--data-dir", data, "query", "--json", str(made[0])]) == 0
    hit = json.loads(capsys.readouterr().out)["results"][0]
    assert hit["offset"] is None and hit["section_distance"] is None

    assert cli.main(["--data-dir", data, "query", "--start", "20", "--end", "10", str(made[0])]) == 2
    assert "--end must be after --start" in capsys.readouterr().err
