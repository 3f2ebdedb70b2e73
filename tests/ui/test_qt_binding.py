"""The Qt binding itself: PySide6 6.12.0 loses a reference to True on every Python-side emit().

On Python < 3.12 (True is not immortal there) the interpreter then aborts with "bool_dealloc:
deallocating True or False" once True's count reaches zero: measured with the whole window built,
about 8,000 emits, i.e. ~4.5 minutes of audition (the player emits its position 30 times a second).
6.11.3 does not leak.  pyproject.toml excludes a leaking version; this test keeps it so.
"""

from __future__ import annotations

import ctypes
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from PySide6.QtCore import QObject, Signal

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


class Emitter(QObject):
    moved = Signal(float)


def references_to_true_lost_per_emit(qtbot, emits: int = 200) -> float:
    emitter = Emitter()
    emitter.moved.connect(lambda _s: None)
    before = sys.getrefcount(True)
    for _ in range(emits):
        emitter.moved.emit(1.0)
    lost = before - sys.getrefcount(True)
    for _ in range(lost):  # give back what a leaking binding took, or this process aborts at exit
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return lost / emits


def test_a_binding_that_loses_references_on_emit_is_excluded_by_the_dependencies(qtbot):
    lost = references_to_true_lost_per_emit(qtbot)
    installed = metadata.version("PySide6-Essentials")
    declared = Requirement(re.search(r'"(PySide6-Essentials[^"]*)"', PYPROJECT.read_text()).group(1))
    assert lost < 0.5 or installed not in declared.specifier, (
        f"PySide6 {installed} loses {lost:.1f} reference(s) to True per emit() and {declared} allows it")
