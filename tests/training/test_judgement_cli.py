"""Issue 11 end to end: `songsim judge`, `songsim judgements`, `songsim train --judgements` (with and
without --tags) on a synthesised library."""

from __future__ import annotations

import csv
import json

from songsim_desktop import cli
from songsim_desktop.core import synth
from songsim_desktop.core.service import SongsimService

FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing"), synth.Family("bell", "drone")]


def test_judge_list_export_and_train_on_judgements(tmp_path, capsys, one_torch_thread):
    music = tmp_path / "music"
    made = synth.write_library(music, FAMILIES, per_family=3, seconds=6.0, suffixes=(".wav",))
    assert cli.main(["index", str(music), "--workers", "0"]) == 0
    by_family = {f.name: sorted(str(p) for p, g in made.items() if g == f) for f in FAMILIES}
    sine, saw, bell = (by_family[f.name] for f in FAMILIES)
    capsys.readouterr()
    # each sine track: the other sine tracks are liked, the bell tracks disliked
    for ref in sine:
        for other in sine:
            if other != ref:
                assert cli.main(["judge", ref, other, "--like"]) == 0
        for other in bell:
            assert cli.main(["judge", ref, other, "--dislike"]) == 0
    outside = tmp_path / "outside.wav"
    synth.write_track(outside, FAMILIES[1], 6.0, seed=5)
    assert cli.main(["judge", str(outside), saw[0], "--like", "--section", "1", "4"]) == 0
    assert cli.main(["judge", sine[0], sine[0], "--like"]) == 2  # not against itself
    assert cli.main(["judge", sine[0], str(outside), "--like"]) == 2  # the result must be in the library
    capsys.readouterr()
    assert cli.main(["judgements", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed["judgements"]) == 3 * 2 + 3 * 3 + 1
    outside_row = [j for j in listed["judgements"] if j["section_start"] is not None]
    assert [(j["result"], j["sign"], j["section_end"]) for j in outside_row] == [(saw[0], 1, 4.0)]
    export = tmp_path / "judgements.json"
    assert cli.main(["judgements", "--export", str(export)]) == 0
    assert json.loads(export.read_text(encoding="utf-8")) == listed

    assert cli.main(["train"]) == 2  # neither --tags nor --judgements
    with SongsimService() as svc:
        default_id = svc.active_model_id()
    capsys.readouterr()
    assert cli.main(["train", "--judgements", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    with SongsimService() as svc:
        new_id = svc.active_model_id()
        record = next(m for m in svc.models() if m.id == new_id)
        assert new_id != default_id and new_id in out
        assert record.metrics["judgement_triplets"] > 0 and record.metrics["judgement_accuracy_after"] is not None
        assert svc.library.vector_count(new_id) == len(made)
        assert len(svc.library.judgements()) == 16  # they survive the model change

    tags_csv = tmp_path / "tags.csv"
    with open(tags_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "tags"])
        for path, family in made.items():
            writer.writerow([str(path), family.timbre])
    assert cli.main(["train", "--judgements", "--tags", str(tags_csv), "--epochs", "1"]) == 0
    with SongsimService() as svc:
        record = next(m for m in svc.models() if m.active)
        assert record.parent_id == new_id and record.metrics["judgement_triplets"] > 0
