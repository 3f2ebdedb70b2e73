"""Descriptors computed from a file's decoded samples, inside the decode worker.

Scan analysers (this package) run in the main process on what the worker prepared: the model's
log-mel crops.  Some descriptors (tempo, key, ...) need the audio itself, and shipping seconds of
samples from every worker to the main process would cost more than computing them where the audio
already is.  A hook here is ``hook(samples, sample_rate) -> dict`` of plain values; the worker merges
every hook's dict into ``PreparedTrack.descriptors`` and an analyser stores them.

``HOOKS`` is a static list (the decode workers are "spawn" processes: they import this module
afresh, so a hook registered at run time in the main process would never reach them).  Adding a
descriptor is one line in ``HOOKS``.

A hook that raises loses only its own keys (the failure is recorded under ``"errors"``): a tempo
estimator choking on one odd file must not cost the file its vector.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from songsim_desktop.core.descriptors import describe as musical_descriptors

SampleHook = Callable[[np.ndarray, int], dict]

# Every scan's workers run these, in this order.
HOOKS: list[SampleHook] = [
    musical_descriptors,  # tempo, key, rhythm and harmony vectors (issue 12)
]

# The part of the file the hooks see: the middle 30 s (intros and fade-outs are least typical).  30 s, not
# a minute: decoding it is most of the hooks' cost, and tempo and key need no more (issue 12's bench).
EXCERPT_S = 30.0


def describe(samples: np.ndarray, sample_rate: int, hooks: list[SampleHook] | None = None) -> dict:
    """Every hook's descriptors of ``samples`` (mono float32), merged; failures under ``errors``."""
    out: dict = {}
    errors: list[str] = []
    for hook in HOOKS if hooks is None else hooks:
        try:
            out.update(hook(samples, sample_rate))
        except Exception as err:  # noqa: BLE001 - one descriptor's bug must not fail the file
            errors.append(f"{getattr(hook, '__name__', hook)}: {type(err).__name__}: {err}")
    if errors:
        out["errors"] = errors
    return out


def describe_file(path: str, info, sample_rate: int) -> dict:
    """Decode the middle ``EXCERPT_S`` of ``path`` and describe it; {} when no hook is registered.

    ``info`` is the file's ``audio.AudioInfo`` (its duration places the excerpt).
    """
    if not HOOKS:
        return {}
    from songsim_desktop.core import audio  # here, not at import: audio imports the decoders

    duration = float(getattr(info, "duration_s", 0.0) or 0.0)
    offset = max(0.0, duration / 2 - EXCERPT_S / 2)
    samples = audio.load(path, sample_rate, offset_s=offset, max_seconds=EXCERPT_S)
    return describe(samples, sample_rate)
