"""The model lifecycle: register a model file, switch to a model, and undo a switch that did not finish.

There is exactly one way to change the active model: :func:`switch_model_job`.  It re-embeds every
track with the target model first (from the features cache; resumable) and only then activates it,
in one transaction.  Until that last step the old model stays active with all its vectors, so a query
made while a switch runs, or after it was cancelled or failed, sees the old model's complete index.
The CLI (`songsim models activate`), the GUI's model list, fine-tuning and the upgrade to a newly
shipped default model all go through it.

:func:`adopt_model_job` is the variant for a model file that is not registered yet (a fine-tune's
export): register, switch, and on cancel or error unregister it and delete its files again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Generator, Optional

from songsim_desktop.core import jobs
from songsim_desktop.core.embedder import Embedder, read_model_info
from songsim_desktop.core.library import Library, ModelRecord, now_iso
from songsim_desktop.core.progress import CancelToken, Progress
from songsim_desktop.core.reports import ReembedReport
from songsim_desktop.errors import Cancelled, ModelError


def register_model_file(library: Library, path: str | Path, metrics: Optional[dict] = None,
                        builtin: bool = False) -> str:
    """Record a model file in the library (not active); returns its id."""
    info = read_model_info(path)
    library.add_model(ModelRecord(info.id, info.name, str(Path(path).resolve()), info.dim, info.parent,
                                  info.created or now_iso(),
                                  dict(metrics or info.training.get("metrics") or {}), builtin=builtin))
    return info.id


def switch_model_job(library: Library, features, embedder: Embedder, cancel: Optional[CancelToken] = None
                     ) -> Generator[Progress, None, ReembedReport]:
    """Re-embed every track with ``embedder``'s model, then make it the active model.

    Raises Cancelled when cancelled before the re-embedding completed: the old model is then still
    active; the vectors made so far for the target are kept (a later switch resumes from them).
    Tracks that fail to decode are reported per file and do not stop the switch.
    """
    cancel = cancel or CancelToken()
    model_id = embedder.info.id
    if library.model(model_id) is None:
        raise ModelError("no such model is registered (see 'songsim models')", path=model_id,
                         action="switching to model")
    report = yield from jobs.reembed_job(library, features, embedder, cancel)
    if report.cancelled or cancel.cancelled:
        raise Cancelled()
    library.set_active_model_id(model_id)  # the one moment the active model changes
    return report


def adopt_model_job(library: Library, features, model_path: Path, open_embedder, metrics: dict,
                    cancel: Optional[CancelToken] = None) -> Generator[Progress, None, ReembedReport]:
    """Register a new model file and switch to it; on cancel or error forget it and delete its files.

    ``open_embedder(model_id)`` gives the (cached) embedder of a registered model.
    """
    model_id = None
    try:
        model_id = register_model_file(library, model_path, metrics)
        return (yield from switch_model_job(library, features, open_embedder(model_id), cancel))
    except BaseException:  # Cancelled, an error, or the driver closing us (GeneratorExit)
        discard_model(library, model_id, model_path)
        raise


def discard_model(library: Library, model_id: Optional[str], model_path: Optional[Path]) -> None:
    """Unregister a model that never became usable and delete its file and the files beside it."""
    if model_id is not None and library.model(model_id) is not None:
        library.remove_model(model_id)
    if model_path is not None:
        for sibling in model_files(model_path):
            sibling.unlink(missing_ok=True)


def model_files(model_path: Path) -> list[Path]:
    """``<id>.onnx`` and the files stored beside it under the same stem (weights, metadata)."""
    model_path = Path(model_path)
    return sorted(p for p in model_path.parent.glob(f"{model_path.stem}.*") if p.is_file())


def install_model_files(staged_onnx: Path, models_dir: Path) -> Path:
    """Move an exported model (``<staging>/<stem>.onnx`` + its sibling files) to ``<models>/<id>.*``.

    The .onnx moves last: its presence means "complete".  Returns the final .onnx path.
    """
    model_id = read_model_info(staged_onnx).id
    final = Path(models_dir) / f"{model_id}.onnx"
    siblings = [p for p in model_files(staged_onnx) if p.suffix != ".onnx"]
    for path in [*siblings, Path(staged_onnx)]:
        os.replace(path, final.with_suffix(path.suffix))
    return final


# --- the shipped default model ------------------------------------------------------------------------
def register_shipped_default(library: Library, shipped_path: Path) -> tuple[str, Optional[str]]:
    """Register the shipped default; returns (its id, the id of an older default to re-embed away from).

    A new app version may ship a new default under the same file name.  When the active model was the
    old default, it stays active (its vectors are complete and queries keep working) until
    :func:`switch_model_job` to the new default has re-embedded the library: the caller runs that in
    the background and then calls :func:`retire_old_defaults`.  Old defaults that are not active are
    retired at once.  A missing or unregistered active model falls back to the shipped default.
    """
    shipped_id = register_model_file(library, shipped_path, builtin=True)
    active = library.active_model_id()
    record = library.model(active) if active else None
    upgrade_from = None
    if record is None or (not record.builtin and not Path(record.path).is_file()):
        library.set_active_model_id(shipped_id)
    elif record.builtin and record.id != shipped_id:
        upgrade_from = record.id
    retire_old_defaults(library, shipped_id, keep=upgrade_from)
    return shipped_id, upgrade_from


def retire_old_defaults(library: Library, shipped_id: str, keep: Optional[str] = None) -> list[str]:
    """Forget the built-in models other than the shipped one (their file was replaced), except ``keep``."""
    old = [m.id for m in library.models() if m.builtin and m.id not in (shipped_id, keep)]
    for model_id in old:
        library.retire_builtin_model(model_id)
    return old

