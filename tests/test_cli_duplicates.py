"""`songsim duplicates`: the report on stdout (text or JSON), an export, remembered marks."""

from __future__ import annotations

import json

import soundfile as sf

from songsim_desktop import cli
from songsim_desktop.core import synth

SR = 22050


def test_duplicates_command_reports_exports_and_remembers(tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    song = synth.render(synth.Family("saw", "swing"), 20.0, SR, seed=3)
    sf.write(str(music / "song.flac"), song, SR)
    sf.write(str(music / "song-copy.ogg"), song, SR)
    sf.write(str(music / "another.wav"), synth.render(synth.Family("saw", "swing"), 20.0, SR, seed=4), SR)
    data = ["--data-dir", str(tmp_path / "data")]
    assert cli.main(["index", str(music), *data]) == 0
    capsys.readouterr()
    assert cli.main(["duplicates", "--json", "--export", str(tmp_path / "d.csv"), *data]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [sorted(c["path"].rsplit("/", 1)[1] for c in g["copies"]) for g in report["groups"]] == [
        ["song-copy.ogg", "song.flac"]]
    assert "song.flac" in (tmp_path / "d.csv").read_text()
    assert cli.main(["duplicates", "--not-duplicates", str(music / "song.flac"), str(music / "song-copy.ogg"),
                     *data]) == 0
    assert capsys.readouterr().out.strip().endswith("1 marked not duplicates)")
    assert cli.main(["duplicates", *data]) == 0
    assert capsys.readouterr().out.startswith("0 groups")
