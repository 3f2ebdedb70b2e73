"""Fine-tuning on a scanned synthesised library: one front end, cache use, new model, rollback on cancel.

Core gathers the inputs (core.fine_tune), training.finetune.fine_tune trains and exports (a pure
function: it never sees the library), and core's model lifecycle registers, re-embeds and activates.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from songsim_desktop import paths
from songsim_desktop.core import audio, decoding, synth
from songsim_desktop.core.fine_tune import TrainingRequest, gather_tags, load_inputs
from songsim_desktop.core.features import logmel_batch
from songsim_desktop.core.progress import CancelToken, drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.errors import Cancelled, ModelError, SongsimError
from songsim_desktop.training.config import TrainConfig
from songsim_desktop.training.finetune import fine_tune

FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing"), synth.Family("bell", "drone"),
            synth.Family("noise", "sparse")]
QUICK = dict(epochs=1, max_steps_per_epoch=2, batch_size=8, threads=1)


@pytest.fixture(scope="module")
def scanned_template(tmp_path_factory):
    """A scanned library of 12 synthesised tracks (3 per family), built once and copied per test."""
    music = tmp_path_factory.mktemp("music") / "Bibliothèque"
    synth.write_library(music, FAMILIES, per_family=3, seconds=7.0)
    data = tmp_path_factory.mktemp("data")
    with SongsimService(data) as svc:
        report = drive(svc.scan_job(music, workers=0))
        assert report.added == 12 and not report.failed
    return music, data


@pytest.fixture
def service(scanned_template, isolated_data_dir):
    music, data = scanned_template
    shutil.copytree(data, isolated_data_dir, dirs_exist_ok=True)
    svc = SongsimService()
    for family in FAMILIES:  # user tags: the timbre; the folder name is the family
        ids = [t.id for t in svc.tracks() if f"/{family.name}/" in t.path]
        svc.add_tags(ids, [family.timbre])
    yield svc
    svc.close()


def test_one_front_end_training_input_equals_the_inference_input(service):
    """The training path (features cache, or decoding when missing) feeds the model exactly what
    the scan computed for the same file (one whole decode, core.full_decode), up to the cache's
    float16 storage; and that is what inference of the file computes (core.audio.read_crops +
    features.logmel_batch) up to the resampler's edge effects (a whole-file stream vs windows)."""
    frontend = service.active_model().frontend
    track = service.tracks()[0]
    crops, _ = audio.read_crops(track.path, frontend)
    inference = logmel_batch(crops, frontend)
    scanned = decoding.prepare_track(track.path, frontend).logmel
    assert np.abs(scanned - inference).mean() < 0.05  # dB: far below anything the model hears
    expected = scanned.astype(np.float16).astype(np.float32)
    cached, failed = drive(load_inputs(service.library, service.features, [track.id], frontend, CancelToken()))
    assert not failed and np.array_equal(cached[track.id], expected)
    service.features.delete([track.id])  # the decode-when-missing path gives the same numbers
    decoded, _ = drive(load_inputs(service.library, service.features, [track.id], frontend, CancelToken()))
    assert np.array_equal(decoded[track.id], expected)
    assert service.features.get(track.id, frontend.key()) is not None  # and it is cached for the next time


def test_only_tracks_missing_from_the_cache_are_decoded(service, monkeypatch):
    frontend = service.active_model().frontend
    ids = [t.id for t in service.tracks()]
    service.features.delete(ids[:1])
    decoded = []
    real = decoding.prepare_track
    monkeypatch.setattr(decoding, "prepare_track", lambda path, cfg: decoded.append(path) or real(path, cfg))
    inputs, _ = drive(load_inputs(service.library, service.features, ids, frontend, CancelToken()))
    assert set(inputs) == set(ids) and decoded == [service.track(ids[0]).path]


def test_tags_come_from_the_chosen_sources(service):
    ids = [t.id for t in service.tracks()]
    service.library.add_tags(ids[:2], ["ambient"], source="file")
    user_only = gather_tags(service.library, TrainConfig(use_file_tags=False))
    assert all("ambient" not in tags for tags in user_only.values())
    with_file = gather_tags(service.library, TrainConfig(use_file_tags=True))
    assert all("ambient" in with_file[i] for i in ids[:2])
    with_folders = gather_tags(service.library, TrainConfig(use_folder_tags=True))
    assert {f.name for f in FAMILIES} <= set().union(*with_folders.values())
    assert not service.library.tags_by_track().get(ids[2], set()) & {f.name for f in FAMILIES}  # nothing written


def test_finetune_makes_registers_reembeds_and_activates_a_new_model(service):
    default = service.active_model()
    n_tracks = len(service.tracks())
    stages = []
    report = drive(service.train_job(TrainConfig(name="my tags", **QUICK), fine_tune), lambda p: stages.append(p.stage))
    assert report.model_id and report.model_id != default.id
    assert service.active_model_id() == report.model_id
    model_file = paths.user_models_dir(service.data_dir) / f"{report.model_id}.onnx"
    assert report.model_path == str(model_file) and model_file.with_suffix(".pt").is_file()
    record = service.library.model(report.model_id)
    assert record.parent_id == default.id and record.name == "my tags"
    assert record.metrics["val_map_after"] == report.val_map_after
    assert report.epochs == 1 and len(report.history) == 1
    assert report.reembed.embedded == n_tracks and report.reembed.decoded == 0  # from the cache only
    assert service.library.vector_count(report.model_id) == n_tracks
    assert service.library.vector_count(default.id) == n_tracks  # vectors kept per model id
    assert {"prepare", "train", "export", "reembed"} <= set(stages)
    match = service.query_track(service.tracks()[0].id, k=3)
    assert match.model_id == report.model_id and len(match.matches) == 3
    # A second fine-tune continues from the first one's weights.
    second = drive(service.train_job(TrainConfig(name="again", **QUICK), fine_tune))
    assert service.library.model(second.model_id).parent_id == report.model_id


@pytest.mark.parametrize("stage", ["train", "reembed"])
def test_cancel_at_any_step_leaves_the_library_as_it_was(service, stage):
    default_id = service.active_model_id()
    cancel = CancelToken()

    def on_progress(p):
        if p.stage == stage and p.done >= 1 or (stage == "train" and p.extra.get("batch") == 1):
            cancel.cancel()

    with pytest.raises(Cancelled):
        drive(service.train_job(TrainConfig(**QUICK), fine_tune, cancel), on_progress, cancel)
    assert service.active_model_id() == default_id
    assert [m.id for m in service.models()] == [default_id]
    assert not list(paths.user_models_dir(service.data_dir).iterdir())


def test_too_few_tags_is_a_clear_error_before_any_work(service):
    service.remove_tags([t.id for t in service.tracks()], [f.timbre for f in FAMILIES])
    service.add_tags([t.id for t in service.tracks()], ["music"])
    stages = []
    with pytest.raises(SongsimError, match="at least 2 different tags"):
        drive(service.train_job(TrainConfig(**QUICK), fine_tune), lambda p: stages.append(p.stage))
    assert set(stages) <= {"prepare"}  # refused before any training step


def test_a_model_without_weights_cannot_be_fine_tuned(service, tmp_path):
    from songsim_desktop.training.export import checkpoint_path, export_untrained

    bare = tmp_path / "bare.onnx"
    export_untrained(bare, seed=3)
    checkpoint_path(bare).unlink()
    record = service.register_model(bare)
    drive(service.switch_model_job(record.id))
    stages = []
    with pytest.raises(ModelError, match="bare.pt"):
        drive(service.train_job(TrainConfig(**QUICK), fine_tune), lambda p: stages.append(p.stage))
    assert set(stages) <= {"prepare"}


def test_the_trainer_is_a_pure_function_of_its_inputs(service, tmp_path):
    """No library, no service: cached crops + tags + config + the parent's file in, an ONNX file out."""
    parent = service.active_model()
    tags = gather_tags(service.library, TrainConfig())
    inputs, _ = drive(load_inputs(service.library, service.features, sorted(tags), parent.frontend, CancelToken()))
    request = TrainingRequest(inputs, tags, parent.frontend, parent.id, parent.path, tmp_path / "out" / "new.onnx")
    (tmp_path / "out").mkdir()
    models_before = [m.id for m in service.models()]
    trained = drive(fine_tune(request, TrainConfig(name="pure", **QUICK)))
    assert trained.model_path == request.export_path and trained.model_path.is_file()
    assert trained.model_path.with_suffix(".pt").is_file() and len(trained.history) == 1
    assert [m.id for m in service.models()] == models_before  # nothing registered by training
