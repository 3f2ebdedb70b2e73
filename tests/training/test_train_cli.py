"""`songsim train` end to end: index a synthesised library, tag it from a CSV, fine-tune, query."""

from __future__ import annotations

import csv
import json

from songsim_desktop import cli
from songsim_desktop.core import synth
from songsim_desktop.core.service import SongsimService

FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing"), synth.Family("bell", "drone"),
            synth.Family("noise", "sparse")]


def test_songsim_train_fine_tunes_activates_and_reembeds(tmp_path, capsys, one_torch_thread):
    music = tmp_path / "music"
    made = synth.write_library(music, FAMILIES, per_family=2, seconds=7.0)
    assert cli.main(["index", str(music), "--workers", "0"]) == 0
    with SongsimService() as svc:
        default_id = svc.active_model_id()
    tags_csv = music / "tags.csv"
    with open(tags_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "tags"])
        for path, family in made.items():  # relative paths, several tags split by ';'
            writer.writerow([str(path.relative_to(music)), f"{family.timbre};{family.rhythm}"])
    capsys.readouterr()

    assert cli.main(["train", "--tags", str(tags_csv), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "trained model" in out

    with SongsimService() as svc:
        new_id = svc.active_model_id()
        assert new_id != default_id and new_id in out
        record = next(m for m in svc.models() if m.id == new_id)
        assert record.parent_id == default_id and not record.builtin
        assert record.metrics["epochs"] == 2 and record.metrics["val_map_after"] is not None
        assert svc.library.vector_count(new_id) == len(made)  # every track re-embedded
        user_tags = {t.path: set(t.tags) for t in svc.tracks()}
    assert all({f.timbre, f.rhythm} <= user_tags[str(p)] for p, f in made.items())

    reference = next(p for p, f in made.items() if f.timbre == "bell")
    assert cli.main(["query", str(reference), "-k", "3", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(answer["results"]) == 3
