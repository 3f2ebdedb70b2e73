"""core.embedder: model metadata and identity, batching, unit vectors, determinism, bad model files.

Most tests use a tiny model built here with onnx.helper (mean over time -> linear -> L2 norm), with
the same contract as the shipped one, so they are fast and do not depend on what training exports;
one test runs the shipped default model end to end.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.audio_factory import write_sine
from songsim_desktop.core import audio, synth
from songsim_desktop.core.embedder import Embedder, ModelInfo, model_id_of, read_model_info, track_vector
from songsim_desktop.core.features import FrontEndConfig, logmel_batch
from songsim_desktop.errors import DecodeError, ModelError
from songsim_desktop.paths import default_model_path

CFG = FrontEndConfig(crop_frames=32, n_crops=4)


def build_placeholder_model(path: Path, cfg: FrontEndConfig, dim: int = 16, seed: int = 0,
                            meta: dict | None = None, with_metadata: bool = True) -> Path:
    """An ONNX model honouring the songsim contract: mean over time -> linear -> L2 norm."""
    weights = np.random.default_rng(seed).standard_normal((cfg.n_mels, dim)).astype(np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["logmel"], ["pooled"], axes=[1, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "W"], ["projected"]),
        helper.make_node("LpNormalization", ["projected"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes, "placeholder",
        [helper.make_tensor_value_info("logmel", TensorProto.FLOAT, ["batch", 1, cfg.n_mels, cfg.crop_frames])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        initializer=[numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if with_metadata:
        data = meta or {"format": 1, "name": f"test model {seed}", "frontend": cfg.to_dict(), "dim": dim,
                        "parent": None, "created": "2026-11-28T00:00:00Z", "training": {"note": "test"}}
        helper.set_model_props(model, {"songsim": json.dumps(data)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def model_path(tmp_path) -> Path:
    return build_placeholder_model(tmp_path / "tiny.onnx", CFG)


def test_read_model_info_reads_the_songsim_metadata(model_path):
    info = read_model_info(model_path)
    assert isinstance(info, ModelInfo)
    assert info.name == "test model 0" and info.dim == 16 and info.parent is None
    assert info.frontend == CFG and info.training == {"note": "test"}
    assert info.created == "2026-11-28T00:00:00Z" and info.path == str(model_path)


def test_model_id_is_the_first_16_hex_of_the_file_sha256(model_path, tmp_path):
    expected = hashlib.sha256(model_path.read_bytes()).hexdigest()[:16]
    assert model_id_of(model_path) == expected == read_model_info(model_path).id
    other = build_placeholder_model(tmp_path / "other.onnx", CFG, seed=1)
    assert model_id_of(other) != expected  # different weights, different id


def test_embed_inputs_shape_unit_norm_batches_and_determinism(model_path):
    emb = Embedder(model_path, threads=1)
    x = np.random.default_rng(0).normal(-40, 10, (70, 1, CFG.n_mels, CFG.crop_frames)).astype(np.float32)
    out = emb.embed_inputs(x)  # 70 > BATCH_SIZE: three batches
    assert out.shape == (70, 16) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out, emb.embed_inputs(x))
    np.testing.assert_allclose(out[40:45], emb.embed_inputs(x[40:45]), atol=1e-6)  # batching is invisible
    # what the tiny model computes, by hand: normalised (mean over time) @ W
    weights = numpy_helper.to_array(onnx.load(str(model_path)).graph.initializer[0])
    by_hand = x[:, 0].mean(axis=2) @ weights
    np.testing.assert_allclose(out, by_hand / np.linalg.norm(by_hand, axis=1, keepdims=True), atol=1e-5)
    with pytest.raises(ValueError, match="model input must have shape"):
        emb.embed_inputs(x[:, :, :10])


def test_track_vector_is_the_normalised_mean():
    crops = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(track_vector(crops), [2 ** -0.5, 2 ** -0.5], atol=1e-7)
    with pytest.raises(ValueError):
        track_vector(np.zeros((0, 4), np.float32))


def test_embed_file_same_file_same_vector_and_families_differ(model_path, tmp_path):
    emb = Embedder(model_path, threads=1)
    a = synth.write_track(tmp_path / "a.flac", synth.Family("saw", "straight"), 4.0, seed=1)
    b = synth.write_track(tmp_path / "b.wav", synth.Family("sine", "drone"), 4.0, seed=2)
    ta = emb.embed_file(a)
    assert ta.vector.shape == (16,) and ta.crop_vectors.shape == (CFG.n_crops, 16)
    assert np.linalg.norm(ta.vector) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(ta.vector, emb.embed_file(a).vector)
    # another thread count splits the sums differently: the same to rounding
    np.testing.assert_allclose(ta.vector, Embedder(model_path, threads=2).embed_file(a).vector, atol=1e-6)
    crops, _ = audio.read_crops(a, CFG)
    np.testing.assert_allclose(ta.crop_vectors, emb.embed_inputs(logmel_batch(crops, CFG)), atol=1e-6)
    tb = emb.embed_file(b)
    assert float(ta.vector @ tb.vector) < 0.999  # different music, different vectors


def test_embed_file_passes_decode_errors_through(model_path, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty"):
        Embedder(model_path, threads=1).embed_file(empty)


def test_model_errors_name_the_file_and_the_problem(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n", encoding="utf-8")
    with pytest.raises(ModelError, match="not a valid ONNX model") as err:
        read_model_info(text)
    assert str(text) in str(err.value)
    with pytest.raises(ModelError, match="not found"):
        read_model_info(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="not found"):
        Embedder(tmp_path / "missing.onnx")
    bare = build_placeholder_model(tmp_path / "bare.onnx", CFG, with_metadata=False)
    with pytest.raises(ModelError, match="lacks the 'songsim' metadata"):
        Embedder(bare)
    partial = build_placeholder_model(tmp_path / "partial.onnx", CFG, meta={"format": 1, "name": "x"})
    with pytest.raises(ModelError, match="lacks 'frontend' or 'dim'"):
        read_model_info(partial)


def test_shipped_default_model_embeds_a_file(tmp_path):
    info = read_model_info(default_model_path())
    assert info.id == model_id_of(default_model_path()) and info.dim > 0
    path = write_sine(tmp_path / "tone.wav", seconds=3.0, sr=44100, freq=440.0)
    emb = Embedder(default_model_path(), threads=1)
    result = emb.embed_file(path)
    assert result.crop_vectors.shape == (info.frontend.n_crops, info.dim)
    np.testing.assert_allclose(np.linalg.norm(result.crop_vectors, axis=1), 1.0, atol=1e-4)
    assert np.linalg.norm(result.vector) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(result.vector, emb.embed_file(path).vector, atol=1e-6)

