"""Python's signal behaviour (PEP 475) for the library's blocking calls (private).

The C library retries EINTR with the time left, and after each one asks the
calling thread's interrupt check (sl_set_interrupt_check) whether to stop.
On the main thread, where Python runs signal handlers, the check installed
here always says stop: the C call returns -1/EINTR with its progress, the
wrapper runs the handlers (PyErr_CheckSignals) and, if none raised, resumes
the call where it stopped with the time that is left, as CPython's own
socket calls do. A handler's exception propagates carrying `.done` (and
`.partial`).

The check is a C function (Py_IsInitialized: always 1, safe without the
GIL), not a Python callback: the interpreter runs pending handlers on entry
to any Python frame, so a Python callback could not catch what they raise.
Other threads keep the C default (signals never end a call), as Python runs
no handlers there.
"""
from __future__ import annotations

import ctypes
import threading

from ._native import INTERRUPT_CHECK, lib

check_signals = ctypes.pythonapi.PyErr_CheckSignals  # raises what a handler raised
check_signals.restype = ctypes.c_int
check_signals.argtypes = []

_ALWAYS_STOP = ctypes.cast(ctypes.pythonapi.Py_IsInitialized, INTERRUPT_CHECK)

available = hasattr(lib, "sl_set_interrupt_check")
installed = False
if available and threading.current_thread() is threading.main_thread():
    installed = lib.sl_set_interrupt_check(_ALWAYS_STOP, None) == 0


class c_default:
    """Context manager: the C library's default (signals never end a call)
    on this thread meanwhile, for code that calls libsockloop directly."""

    def __enter__(self) -> "c_default":
        if installed:
            lib.sl_set_interrupt_check(INTERRUPT_CHECK(), None)
        return self

    def __exit__(self, *exc: object) -> None:
        if installed:
            lib.sl_set_interrupt_check(_ALWAYS_STOP, None)
