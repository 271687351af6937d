"""Python's signal behaviour (PEP 475) for the library's blocking calls (private).

The C library retries EINTR with the time left, and after each one calls the
calling thread's interrupt check (sl_set_interrupt_check). On the main thread,
where Python runs signal handlers, this module's check runs them
(PyErr_CheckSignals): a handler that returns lets the C call go on; one that
raises makes the check answer 1, the C call returns -1/EINTR with its progress
set, and the wrapper raises the handler's exception (KeyboardInterrupt, ...)
carrying `.done` (and `.partial`). Other threads keep the C default, as Python
runs no handlers there.
"""
from __future__ import annotations

import ctypes
import threading
from typing import Optional

from ._native import INTERRUPT_CHECK, lib

_check_signals = ctypes.pythonapi.PyErr_CheckSignals
_check_signals.restype = ctypes.c_int
_check_signals.argtypes = []

_pending: Optional[BaseException] = None


def _interrupt_check(_ctx: Optional[int]) -> int:
    global _pending
    try:
        _check_signals()  # runs the handlers; ctypes raises what one raised
    except BaseException as exc:  # noqa: B902 - KeyboardInterrupt is the point
        if _pending is None:
            _pending = exc
        return 1
    return 0


_CALLBACK = INTERRUPT_CHECK(_interrupt_check)  # kept alive as long as the module

available = hasattr(lib, "sl_set_interrupt_check")
installed = False
if available and threading.current_thread() is threading.main_thread():
    installed = lib.sl_set_interrupt_check(_CALLBACK, None) == 0


def take_pending() -> Optional[BaseException]:
    """The exception a signal handler raised during the last C call, once."""
    global _pending
    exc, _pending = _pending, None
    return exc
