"""Progress reports and cancellation shared by every long job (scan, embed, train, re-embed).

Jobs are generators that ``yield Progress(...)`` and return their result; whoever drives them (the
CLI, a GUI worker, a test) may stop at any yield.  A :class:`CancelToken` lets code deep inside a
job (a training step, a decode pool) notice the request too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Generator, Optional, TypeVar

from songsim_desktop.errors import Cancelled

T = TypeVar("T")


@dataclass
class Progress:
    stage: str  # "scan", "embed", "train", "export", "reembed", ...
    done: int
    total: int
    message: str = ""
    rate: float = 0.0  # items per second
    eta_s: Optional[float] = None
    extra: dict = field(default_factory=dict)  # e.g. {"loss": 0.3, "epoch": 2, "val_map": 0.41}

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def line(self) -> str:
        """One human line, e.g. 'embed 120/400 (30%) 12.5 tracks/s, ETA 22 s'."""
        text = f"{self.stage} {self.done}/{self.total}"
        if self.total:
            text += f" ({100 * self.fraction:.0f}%)"
        if self.rate:
            text += f" {self.rate:.1f}/s"
        if self.eta_s is not None:
            text += f", ETA {self.eta_s:.0f} s"
        if self.message:
            text += f"  {self.message}"
        return text


class RateMeter:
    """Turns (done, total) into rate and ETA, measured from the first call."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def progress(self, stage: str, done: int, total: int, message: str = "", **extra) -> Progress:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = done / elapsed if done else 0.0
        eta = (total - done) / rate if rate > 0 and total >= done else None
        return Progress(stage, done, total, message, rate, eta, dict(extra))


class CancelToken:
    """Thread-safe flag; ``check()`` raises Cancelled once it is set.

    ``CancelToken(parent, ...)``: also cancelled when any parent is, while ``cancel()`` on it leaves
    the parents alone (a job stopped for another reason than the user's request)."""

    def __init__(self, *parents: "CancelToken") -> None:
        self._event = threading.Event()
        self._parents = parents

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or any(parent.cancelled for parent in self._parents)

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()


ProgressCallback = Callable[[Progress], None]


def drive(job: Generator[Progress, None, T], on_progress: Optional[ProgressCallback] = None,
          cancel: Optional[CancelToken] = None) -> T:
    """Run a job generator to its end, forwarding progress; raise Cancelled at a yield if asked."""
    try:
        while True:
            report = next(job)
            if on_progress is not None:
                on_progress(report)
            if cancel is not None and cancel.cancelled:
                job.close()
                raise Cancelled()
    except StopIteration as stop:
        return stop.value
