"""The ONNX embedder: log-mel crops -> unit vectors, with the model's own front end.

A songsim model is an ONNX file with input ``logmel`` ``[batch, 1, n_mels, crop_frames]``, output
``embedding`` ``[batch, dim]`` (L2-normalised), and a JSON ``songsim`` entry in its metadata that
carries the FrontEndConfig it was trained with (docs/architecture.md, "The model contract").  The
model id is a hash of the file bytes, so a fine-tuned model can never be mistaken for its parent.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from songsim_desktop.core import audio
from songsim_desktop.core.features import FrontEndConfig, logmel_batch
from songsim_desktop.errors import ModelError

INPUT_NAME = "logmel"
OUTPUT_NAME = "embedding"
METADATA_KEY = "songsim"
BATCH_SIZE = 32


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    path: str
    frontend: FrontEndConfig
    dim: int
    parent: str | None
    created: str
    training: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class TrackEmbedding:
    vector: np.ndarray  # (dim,) float32, unit norm: what the index searches
    crop_vectors: np.ndarray  # (n_crops, dim) float32, unit norm each: for section search


def model_id_of(path: str | os.PathLike) -> str:
    """First 16 hex digits of the sha256 of the file bytes."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ModelError(f"cannot read the model file ({exc.strerror or exc})", path=path,
                         action="reading model") from None
    return digest.hexdigest()[:16]


def _session(path: Path, options: ort.SessionOptions | None = None) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError("model file not found", path=path, action="loading model")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for bad files
        raise ModelError(f"not a valid ONNX model ({type(exc).__name__})", path=path,
                         action="loading model") from None


def _songsim_metadata(path: Path, session: ort.InferenceSession) -> dict:
    """The ``songsim`` JSON from the model's metadata_props, read by onnxruntime (no onnx needed)."""
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise ModelError(f"the model lacks the '{METADATA_KEY}' metadata (not a songsim model)",
                         path=path, action="loading model")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelError(f"the '{METADATA_KEY}' metadata is not valid JSON ({exc.msg})",
                         path=path, action="loading model") from None
    if not isinstance(meta, dict) or "frontend" not in meta or "dim" not in meta:
        raise ModelError(f"the '{METADATA_KEY}' metadata lacks 'frontend' or 'dim'",
                         path=path, action="loading model")
    return meta


def read_model_info(path: str | os.PathLike) -> ModelInfo:
    """Identity and contract of a model file; ModelError if missing, not ONNX or not songsim's."""
    p = Path(path)
    return _info_from(p, _session(p))


def _info_from(p: Path, session: ort.InferenceSession) -> ModelInfo:
    meta = _songsim_metadata(p, session)
    return ModelInfo(
        id=model_id_of(p),
        name=str(meta.get("name") or p.stem),
        path=str(p),
        frontend=FrontEndConfig.from_dict(meta["frontend"]),
        dim=int(meta["dim"]),
        parent=meta.get("parent"),
        created=str(meta.get("created") or ""),
        training=dict(meta.get("training") or {}),
    )


def l2_normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def track_vector(crop_vectors: np.ndarray) -> np.ndarray:
    """A track's vector: the L2-normalised mean of its (unit) crop vectors."""
    crop_vectors = np.asarray(crop_vectors, dtype=np.float32)
    if crop_vectors.ndim != 2 or len(crop_vectors) == 0:
        raise ValueError(f"expected (n_crops, dim) crop vectors, got shape {crop_vectors.shape}")
    return l2_normalise(crop_vectors.mean(axis=0))


def default_threads() -> int:
    # Scans run several decode processes beside the embedder; leave them cores.
    return max(1, min(4, (os.cpu_count() or 2) // 2))


class Embedder:
    """One onnxruntime session over a songsim model; thread count fixed at construction."""

    def __init__(self, model_path: str | os.PathLike, threads: int | None = None):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        path = Path(model_path)
        self._session = _session(path, options)
        self.info = _info_from(path, self._session)
        names_in = [i.name for i in self._session.get_inputs()]
        names_out = [o.name for o in self._session.get_outputs()]
        if INPUT_NAME not in names_in or OUTPUT_NAME not in names_out:
            raise ModelError(f"expected input '{INPUT_NAME}' and output '{OUTPUT_NAME}', found "
                             f"{names_in} -> {names_out}", path=model_path, action="loading model")

    @property
    def frontend(self) -> FrontEndConfig:
        return self.info.frontend

    def embed_inputs(self, x: np.ndarray) -> np.ndarray:
        """Model inputs ``(B, 1, n_mels, crop_frames)`` -> unit vectors ``(B, dim)``, in batches."""
        cfg = self.info.frontend
        x = np.asarray(x, dtype=np.float32)
        expected = (1, cfg.n_mels, cfg.crop_frames)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(f"model input must have shape (B, {expected[0]}, {expected[1]}, "
                             f"{expected[2]}), got {x.shape}")
        if not np.isfinite(x).all():  # a NaN vector would poison every query of the index
            raise ValueError("model input contains NaN or infinity (damaged audio data)")
        out = np.empty((len(x), self.info.dim), dtype=np.float32)
        for i in range(0, len(x), BATCH_SIZE):
            batch = np.ascontiguousarray(x[i: i + BATCH_SIZE])
            out[i: i + len(batch)] = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
        # The model normalises itself; doing it again costs nothing and guards exported variants.
        return l2_normalise(out)

    def embed_crops(self, crops: np.ndarray) -> TrackEmbedding:
        """Crops ``(n, crop_samples)`` of mono audio at the model rate -> a TrackEmbedding."""
        crop_vectors = self.embed_inputs(logmel_batch(crops, self.info.frontend))
        return TrackEmbedding(track_vector(crop_vectors), crop_vectors)

    def embed_file(self, path: str | os.PathLike) -> TrackEmbedding:
        """Decode the crops of an audio file and embed them (DecodeError for bad files)."""
        crops, _info = audio.read_crops(path, self.info.frontend)
        return self.embed_crops(crops)
