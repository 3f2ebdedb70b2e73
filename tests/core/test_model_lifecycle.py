"""The one model switch (re-embed, then activate; roll back on cancel or error) and the default-model upgrade."""

from __future__ import annotations

import shutil

import pytest

from songsim_desktop import cli, paths
from songsim_desktop.core import jobs, model_lifecycle, synth
from songsim_desktop.core.progress import CancelToken, drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.errors import Cancelled, ModelError

from .test_jobs import copy_model_with_new_id

FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing"), synth.Family("bell", "drone")]
N_TRACKS = 2 * len(FAMILIES)


@pytest.fixture
def music(tmp_path):
    synth.write_library(tmp_path / "music", FAMILIES, 2, 7.0, suffixes=(".wav",))
    return tmp_path / "music"


@pytest.fixture
def scanned(music, tmp_path):
    svc = SongsimService()
    drive(svc.scan_job(music, workers=0))
    other = svc.register_model(copy_model_with_new_id(tmp_path, "other"))
    yield svc, other.id
    svc.close()


def query_all(svc: SongsimService):
    result = svc.query_track(svc.tracks()[0].id, k=50)
    return result.model_id, len(result.matches)


def test_switch_re_embeds_before_it_activates(scanned):
    svc, other = scanned
    default = svc.active_model_id()
    seen = []  # what a query made between two steps of the switch sees
    report = drive(svc.switch_model_job(other), lambda p: seen.append(query_all(svc)))
    assert report.embedded == N_TRACKS and svc.active_model_id() == other
    assert seen and all(s == (default, N_TRACKS - 1) for s in seen)  # the old model, complete
    assert query_all(svc) == (other, N_TRACKS - 1)


def test_a_cancelled_switch_leaves_the_old_model_active_and_complete(scanned):
    svc, other = scanned
    default = svc.active_model_id()
    cancel = CancelToken()

    def on_progress(p):
        if p.stage == "reembed" and p.done >= 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        drive(svc.switch_model_job(other, cancel), on_progress, cancel)
    assert svc.active_model_id() == default and query_all(svc) == (default, N_TRACKS - 1)
    assert 0 < svc.library.vector_count(other) < N_TRACKS  # kept: the next switch resumes from them
    report = drive(svc.switch_model_job(other))
    assert report.skipped == svc.library.vector_count(other) - report.embedded > 0
    assert svc.active_model_id() == other


def test_an_error_during_the_switch_leaves_the_old_model_active(scanned, monkeypatch):
    svc, other = scanned
    default = svc.active_model_id()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobs.store, "commit_analysed", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        drive(svc.switch_model_job(other))
    assert svc.active_model_id() == default and query_all(svc) == (default, N_TRACKS - 1)


def test_an_unknown_or_broken_model_is_refused_before_any_work(scanned, tmp_path):
    svc, _ = scanned
    with pytest.raises(ModelError, match="no such model"):
        svc.switch_model_job("0123456789abcdef")
    broken = svc.register_model(copy_model_with_new_id(tmp_path, "broken"))
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError):
        svc.switch_model_job(broken.id)


def test_the_cli_switch_keeps_the_old_model_until_the_new_one_is_complete(scanned, monkeypatch, capsys):
    """Regression (issue 9, bug 3): `songsim models activate` activated first and re-embedded after, so
    a query made meanwhile (the GUI is open on the same library) or after Ctrl-C saw a model with
    no or some vectors."""
    svc, other = scanned
    default = svc.active_model_id()
    seen = []

    class CtrlCHalfWay(cli.ProgressPrinter):
        def __call__(self, progress):
            super().__call__(progress)
            if progress.stage == "reembed":
                with SongsimService() as elsewhere:  # another process on the same library
                    seen.append(query_all(elsewhere))
                raise KeyboardInterrupt

    monkeypatch.setattr(cli, "ProgressPrinter", CtrlCHalfWay)
    assert cli.main(["models", "activate", other[:8]]) == cli.EXIT_CANCELLED
    assert seen == [(default, N_TRACKS - 1)]
    with SongsimService() as fresh:
        assert fresh.active_model_id() == default and query_all(fresh) == (default, N_TRACKS - 1)
    monkeypatch.setattr(cli, "ProgressPrinter", CtrlCHalfWay.__mro__[1])  # the real printer again
    assert cli.main(["models", "activate", other[:8]]) == cli.EXIT_OK
    with SongsimService() as fresh:
        assert fresh.active_model_id() == other and query_all(fresh) == (other, N_TRACKS - 1)


def test_adopting_a_model_that_fails_unregisters_it_and_deletes_its_files(scanned, tmp_path):
    svc, _ = scanned
    default = svc.active_model_id()
    folder = tmp_path / "new-model"
    folder.mkdir()
    model = copy_model_with_new_id(folder, "fresh")
    (folder / "fresh.pt").write_bytes(b"weights")
    before = {m.id for m in svc.models()}
    cancel = CancelToken()
    registered = []

    def on_progress(p):
        registered.append({m.name for m in svc.models()})
        cancel.cancel()

    with pytest.raises(Cancelled):
        drive(model_lifecycle.adopt_model_job(svc.library, svc.features, model, svc.embedder, {}, cancel),
              on_progress, cancel)
    assert registered and "fresh" in registered[0]  # it was registered while it re-embedded
    assert {m.id for m in svc.models()} == before and list(folder.iterdir()) == []
    assert svc.active_model_id() == default


# --- a new app version ships a new default model (issue 8) --------------------------------------------
@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """The shipped default model file, replaceable by a test as an update would."""
    path = tmp_path / "shipped" / "songsim-default.onnx"
    path.parent.mkdir()
    shutil.copyfile(paths.default_model_path(), path)
    monkeypatch.setattr(paths, "default_model_path", lambda: path)
    return path


def ship_new_default(shipped_path, tmp_path):
    shutil.copyfile(copy_model_with_new_id(tmp_path, "new-default"), shipped_path)


def test_a_new_default_re_embeds_in_the_background_while_queries_use_the_old_vectors(music, shipped, tmp_path):
    with SongsimService() as svc:
        drive(svc.scan_job(music, workers=0))
        old = svc.active_model_id()
        assert svc.default_upgrade_from is None
    ship_new_default(shipped, tmp_path)
    with SongsimService() as svc:
        new = svc.default_model_id
        assert new != old and svc.default_upgrade_from == old
        assert svc.active_model_id() == old and query_all(svc) == (old, N_TRACKS - 1)
        with pytest.raises(ModelError, match="new default model"):  # the old file is gone: say why
            svc.scan_job(music)
        seen = []
        report = drive(svc.upgrade_default_job(), lambda p: seen.append(query_all(svc)))
        assert seen and all(s == (old, N_TRACKS - 1) for s in seen)
        assert report.embedded == N_TRACKS and svc.active_model_id() == new
        assert query_all(svc) == (new, N_TRACKS - 1)
        assert [m.id for m in svc.models()] == [new]  # the replaced default is forgotten
        assert svc.library.vector_count(old) == 0
    with SongsimService() as svc:  # nothing left to do at the next start
        assert svc.default_upgrade_from is None and svc.active_model_id() == new


def test_a_cancelled_default_upgrade_is_taken_up_again_at_the_next_start(music, shipped, tmp_path):
    with SongsimService() as svc:
        drive(svc.scan_job(music, workers=0))
        old = svc.active_model_id()
    ship_new_default(shipped, tmp_path)
    cancel = CancelToken()
    with SongsimService() as svc:
        with pytest.raises(Cancelled):
            drive(svc.upgrade_default_job(cancel), lambda p: cancel.cancel(), cancel)
        assert svc.active_model_id() == old
    with SongsimService() as svc:
        assert svc.default_upgrade_from == old
        drive(svc.upgrade_default_job())
        assert svc.active_model_id() == svc.default_model_id != old


def test_the_cli_index_upgrades_the_default_first(music, shipped, tmp_path, capsys):
    assert cli.main(["index", str(music), "--workers", "0"]) == 0
    with SongsimService() as svc:
        old = svc.active_model_id()
    ship_new_default(shipped, tmp_path)
    assert cli.main(["index", str(music), "--workers", "0"]) == 0
    assert "default model changed" in capsys.readouterr().err
    with SongsimService() as svc:
        assert svc.active_model_id() == svc.default_model_id != old
        assert svc.library.vector_count(svc.default_model_id) == N_TRACKS


def test_a_user_model_stays_active_when_the_default_changes(music, shipped, tmp_path):
    with SongsimService() as svc:
        drive(svc.scan_job(music, workers=0))
        old = svc.active_model_id()
        mine = svc.register_model(copy_model_with_new_id(tmp_path, "mine")).id
        drive(svc.switch_model_job(mine))
    ship_new_default(shipped, tmp_path)
    with SongsimService() as svc:
        assert svc.default_upgrade_from is None and svc.active_model_id() == mine
        assert {m.id for m in svc.models()} == {mine, svc.default_model_id} and old not in {mine, svc.default_model_id}
