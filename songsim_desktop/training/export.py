"""Export one trained branch to the ONNX file the core runs, and prove that it computes the same.

Decisions, so nobody has to rediscover them:
- Only the branch is exported, not the front end: the log-mel is computed by core.features (numpy)
  for training and inference alike, and an STFT inside the graph would be a second definition of
  the front end that could drift.  The FrontEndConfig travels in the metadata instead.
- The classic TorchScript exporter (``dynamo=False``) with opset 17 pinned: the graph is plain
  Conv/BatchNorm/Pool/Gemm ops that every onnxruntime since 1.12 runs, the dynamic batch axis is a
  one-liner (``dynamic_axes``), and the new dynamo exporter adds an onnxscript optimisation pass
  and version conversion that make the output depend on more moving parts.  Pinning the opset
  keeps files made today loadable by the onnxruntime the app ships.
- Atomic write: everything goes to a temporary file beside the target, is checked for parity,
  and only then replaces the target; a failed export leaves nothing behind.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from songsim_desktop import atomic
from songsim_desktop.core import synth
from songsim_desktop.core.embedder import INPUT_NAME, METADATA_KEY, OUTPUT_NAME, model_id_of, read_model_info
from songsim_desktop.core.features import FrontEndConfig, logmel_batch
from songsim_desktop.errors import ModelError
from songsim_desktop.training.model import Branch, BranchConfig, build_branch, save_checkpoint

OPSET = 17
PARITY_TOLERANCE = 1e-4


def real_crops(frontend: FrontEndConfig, count: int = 6, seed: int = 0) -> np.ndarray:
    """Model inputs from real audio (synthesised music through the one front end), not noise:
    parity must hold over the value range the model actually sees (dB, with a -100 dB floor)."""
    families = synth.all_families()
    crops = []
    for i in range(count):
        family = families[(seed + 5 * i) % len(families)]
        audio = synth.render(family, frontend.crop_seconds + 0.1, sr=frontend.sample_rate, seed=seed + i)
        crops.append(audio[: frontend.crop_samples])
    batch = logmel_batch(np.stack(crops), frontend)
    batch[-1] = logmel_batch(np.zeros((1, frontend.crop_samples), np.float32), frontend)[0]  # silence
    return batch


def build_metadata(frontend: FrontEndConfig, dim: int, name: str, parent: str | None,
                   training_meta: dict | None) -> dict:
    return {
        "format": 1,
        "name": name,
        "frontend": frontend.to_dict(),
        "dim": int(dim),
        "parent": parent,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "training": training_meta or {},
    }


def _torch_to_onnx(branch: Branch, frontend: FrontEndConfig, out: Path) -> None:
    example = torch.zeros(2, 1, frontend.n_mels, frontend.crop_frames)
    with warnings.catch_warnings():
        # Expected and harmless: the legacy exporter is chosen on purpose (module docstring), and
        # InstanceNorm without running stats always normalises by the input's own statistics,
        # which is exactly what eval mode means for it.
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # legacy exporter's notices
        warnings.filterwarnings("ignore", message=".*operator 'instance_norm' is set to train=True.*")
        # Shape checks inside InstanceNorm become constants in the trace; shapes other than the
        # batch are fixed by the front end, and the parity check runs more than one batch size.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            branch, (example,), str(out), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET, dynamo=False, do_constant_folding=True,
        )


def _attach_metadata(path: Path, metadata: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, sort_keys=True)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def run_onnx(path: Path, inputs: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: inputs.astype(np.float32)})[0]


def check_parity(branch: Branch, onnx_path: Path, inputs: np.ndarray,
                 tolerance: float = PARITY_TOLERANCE, report_path: Path | None = None) -> float:
    """Max abs difference between torch and onnxruntime on ``inputs``; ModelError when >= tolerance.

    ``report_path`` is the name the user asked for (the file checked may be its temporary twin)."""
    shown = report_path or onnx_path
    with torch.no_grad():
        expected = branch(torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))).numpy()
    try:
        got = run_onnx(onnx_path, inputs)
    except Exception as err:  # onnxruntime raises its own types; the user needs the file and action
        raise ModelError(f"onnxruntime cannot run the exported model: {err}", path=shown,
                         action="checking parity of") from err
    if got.shape != expected.shape:
        raise ModelError(f"output shape {got.shape} differs from torch's {expected.shape}",
                         path=shown, action="checking parity of")
    diff = float(np.max(np.abs(got - expected)))
    if not diff < tolerance:
        raise ModelError(f"onnxruntime and torch disagree: max abs difference {diff:.3g} "
                         f">= {tolerance:g}", path=shown, action="checking parity of")
    return diff


def export_branch(branch: Branch, path, frontend: FrontEndConfig, name: str, parent: str | None = None,
                  training_meta: dict | None = None, parity_inputs: np.ndarray | None = None,
                  write_checkpoint: bool = True, write_sidecar: bool = True):
    """Export ``branch`` to ``path`` (ONNX), check parity, and write ``<path>.pt`` and ``<path>.json``.

    Returns the ModelInfo the core reads back from the file (core.embedder.read_model_info).
    Raises ModelError, leaving nothing at ``path``, when the export fails or the parity check does.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if branch.config.n_mels != frontend.n_mels:
        raise ModelError(f"branch expects {branch.config.n_mels} mel bands, front end gives "
                         f"{frontend.n_mels}", path=path, action="exporting")
    cpu_branch = copy.deepcopy(branch).to("cpu").eval()
    metadata = build_metadata(frontend, cpu_branch.config.dim, name, parent, training_meta)
    inputs = real_crops(frontend) if parity_inputs is None else np.asarray(parity_inputs, np.float32)
    with atomic.atomic_path(path) as tmp:
        try:
            _torch_to_onnx(cpu_branch, frontend, tmp)
            _attach_metadata(tmp, metadata)
        except Exception as err:
            raise ModelError(f"torch.onnx.export failed: {err}", path=path, action="exporting") from err
        # Two batch sizes: the whole batch and a single crop, so a batch axis frozen to the
        # example's size by the tracer cannot slip through.
        max_diff = max(check_parity(cpu_branch, tmp, inputs, report_path=path),
                       check_parity(cpu_branch, tmp, inputs[:1], report_path=path))
    model_id = model_id_of(path)
    if write_checkpoint:
        with atomic.atomic_path(checkpoint_path(path)) as tmp:
            save_checkpoint(cpu_branch, tmp)
    if write_sidecar:
        sidecar = dict(metadata, id=model_id, parity_max_abs_diff=max_diff, opset=OPSET,
                       n_params=cpu_branch.n_params(), branch=cpu_branch.config.to_dict())
        atomic.write_text(path.with_suffix(".json"), json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return read_model_info(path)


def checkpoint_path(onnx_path) -> Path:
    """Weights that fine-tuning continues from: ``<model>.pt`` beside ``<model>.onnx``."""
    return Path(onnx_path).with_suffix(".pt")


def export_untrained(path, seed: int = 0, frontend: FrontEndConfig | None = None,
                     config: BranchConfig | None = None, name: str = "songsim untrained"):
    """A seeded, untrained branch of the real architecture (placeholder until a pretrained one)."""
    frontend = frontend or FrontEndConfig()
    config = config or BranchConfig(n_mels=frontend.n_mels)
    branch = build_branch(config, seed=seed)
    meta = {"recipe": "untrained: random initialisation of the real architecture", "seed": seed,
            "n_params": branch.n_params()}
    return export_branch(branch, path, frontend, name=name, parent=None, training_meta=meta)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m songsim_desktop.training.export",
                                     description="Export songsim branch models to ONNX.")
    parser.add_argument("--untrained", metavar="OUT.onnx", required=True,
                        help="write a seeded untrained model of the real architecture")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="songsim untrained")
    args = parser.parse_args(argv)
    info = export_untrained(args.untrained, seed=args.seed, name=args.name)
    print(json.dumps({"id": info.id, "path": info.path, "name": info.name, "dim": info.dim}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
