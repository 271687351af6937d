"""Selector: `selectors.DefaultSelector` on sl_selector (C: src/selector.rs).

A drop-in: the same methods, keys (`selectors.SelectorKey`), events
(EVENT_READ, EVENT_WRITE), exceptions and messages as Python's EpollSelector,
held so by tests/python/test_selector_diff.py, which runs the same operation
sequences on both. The C selector plays the part of `select.epoll`; the keys
live in a dict, as in the standard library, so that lookups and `get_map()`
cost the same.
"""
from __future__ import annotations

import ctypes
import errno
import math
import os
import select as _poll_module
import selectors
import time
from collections.abc import Mapping
from typing import Any, Iterator, List, Optional, Tuple

from ._native import Event, lib

assert ctypes.sizeof(Event) == 4 * ctypes.sizeof(ctypes.c_int), "sl_event is read as 4 ints"
from ._util import INT_MAX, handle_eintr, make_error, retrying

__all__ = ["Selector", "EVENT_READ", "EVENT_WRITE"]

EVENT_READ: int = selectors.EVENT_READ    # 1, as SL_READ
EVENT_WRITE: int = selectors.EVENT_WRITE  # 2, as SL_WRITE
_BOTH = EVENT_READ | EVENT_WRITE
SelectorKey = selectors.SelectorKey

# sl_selector_select without argtypes: the arguments are passed as ready-made
# ctypes objects, the cheapest call ctypes has (select(0) is on the hot path).
# select(0) never blocks, so it keeps the GIL and skips the errno copy (a
# PyDLL call without use_errno, about 0.1 us less); on a failure the call is
# repeated through _select_raw, which has no side effect at timeout 0, for errno.
_select_raw = ctypes.CDLL(lib._name, use_errno=True).sl_selector_select
_select_now = ctypes.PyDLL(lib._name).sl_selector_select
_select_raw.restype = _select_now.restype = ctypes.c_int


def _fileobj_to_fd(fileobj: Any) -> int:
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


def _c_fd(fd: int) -> int:
    if fd > INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return fd


def _closed() -> ValueError:
    return ValueError("I/O operation on closed epoll object")


class _SelectorMapping(Mapping):
    """The live, read-only mapping get_map() returns: file objects (or fds)
    to SelectorKeys, iterating over fds, as the standard library's."""

    __slots__ = ("_selector",)

    def __init__(self, selector: "Selector") -> None:
        self._selector = selector

    def __len__(self) -> int:
        return len(self._selector._fd_to_key)

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        try:
            fd = self._selector._fileobj_lookup(fileobj)
            return self._selector._fd_to_key[fd]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None

    def __iter__(self) -> Iterator[int]:
        return iter(self._selector._fd_to_key)


class Selector(selectors.BaseSelector):
    """selectors.DefaultSelector's interface and behaviour on sl_selector
    (epoll): register/modify/unregister(fileobj), select(timeout) returning
    [(SelectorKey, events)] with every ready fd, get_key, get_map (a live
    read-only mapping), fileno, close, and use as a context manager.

    Blocking in select() follows PEP 475 on the main thread: a signal
    handler runs at once; if it raises, select() raises that exception."""

    def __init__(self) -> None:
        probe = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        os.close(probe)  # the lowest free fd: where epoll_create1 puts its fd
        sel = lib.sl_selector_new()
        if not sel:
            raise make_error(ctypes.get_errno())
        self._sel: Optional[int] = sel
        self._sel_arg = ctypes.c_void_p(sel)
        self._epfd = self._find_epoll_fd(probe)
        self._fd_to_key: dict = {}
        self._map: Optional[_SelectorMapping] = _SelectorMapping(self)
        self._idle: set = set()  # fds with an empty mask, out of the C selector (see _c_modify)
        self._files: dict = {}  # fd -> (st_dev, st_ino) registered (see _same_file)
        self._cbits: dict = {}  # fd -> the events the C selector holds
        self._out = (Event * 64)()
        self._ints = memoryview(self._out).cast("B").cast("i")
        self._cap = 64
        self._nevents = ctypes.c_size_t(64)
        self._now_args = (self._sel_arg, self._out, self._nevents, 0)

    @staticmethod
    def _find_epoll_fd(first: int) -> Optional[int]:
        for fd in range(first, first + 4):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]":
                    return fd
            except OSError:
                pass
        return None

    def _fileobj_lookup(self, fileobj: Any) -> int:
        try:
            return _fileobj_to_fd(fileobj)
        except ValueError:
            for key in self._fd_to_key.values():  # a registered object closed since
                if key.fileobj is fileobj:
                    return key.fd
            raise

    # -- the C selector in the part of select.epoll
    def _c_call(self, fn: Any, fd: int, *args: Any) -> None:
        if self._sel is None:
            raise _closed()
        if fn(self._sel, _c_fd(fd), *args) < 0:
            raise make_error(ctypes.get_errno())

    def _c_register(self, fd: int, events: int) -> None:
        self._c_call(lib.sl_selector_register, fd, events, None)
        self._cbits[fd] = events
        st = os.fstat(fd)
        self._files[fd] = (st.st_dev, st.st_ino)

    def _same_file(self, fd: int) -> None:
        """What epoll_ctl(MOD) would say where sl_selector makes no system
        call: EBADF for a closed fd, ENOENT for a number that names another
        file now (the registered one was closed and the number reused)."""
        st = os.fstat(_c_fd(fd))
        if self._files.get(fd) != (st.st_dev, st.st_ino):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))

    def _c_modify(self, fd: int, bits: int, old: int) -> None:
        """epoll.modify's part. sl_selector has no empty mask, so an fd whose
        events have no READ/WRITE bit (EpollSelector keeps it watched for
        errors and hang-ups only) leaves the C selector until it asks for
        events again, and select() looks for its errors and hang-ups."""
        if self._sel is None:
            raise _closed()
        if fd in self._idle:
            self._same_file(fd)
            if bits:
                self._c_call(lib.sl_selector_register, fd, bits, None)
                self._cbits[fd] = bits
                self._idle.discard(fd)
            return
        if not bits:
            self._same_file(fd)
            lib.sl_selector_unregister(self._sel, fd)
            self._idle.add(fd)
            return
        if bits == self._cbits.get(fd):
            self._same_file(fd)  # sl_selector skips the system call when the mask stays
        if lib.sl_selector_modify(self._sel, fd, bits, None) < 0:
            code = ctypes.get_errno()
            if code == errno.EBADF:
                # sl_selector says EBADF for a number the kernel set does not
                # hold; epoll says ENOENT when it names another file now.
                self._same_file(fd)
            raise make_error(code)
        self._cbits[fd] = bits

    def _c_unregister(self, fd: int) -> None:
        self._files.pop(fd, None)
        self._cbits.pop(fd, None)
        if fd in self._idle:
            self._idle.discard(fd)
        elif self._sel is not None:
            lib.sl_selector_unregister(self._sel, fd)

    def _idle_hangups(self) -> List[Tuple[selectors.SelectorKey, int]]:
        """(key, 0) for the empty-mask fds with an error or hang-up, as epoll
        reports them. Looked for when select() starts; one that comes during
        a blocking select() does not end it (EpollSelector's would). A
        number that names another file now is not reported."""
        poller = _poll_module.poll()
        for fd in self._idle:
            poller.register(fd, 0)
        found = []
        for fd, bits in poller.poll(0):
            key = self._fd_to_key.get(fd)
            if key and bits & (_poll_module.POLLERR | _poll_module.POLLHUP) and not bits & _poll_module.POLLNVAL:
                try:
                    self._same_file(fd)
                except OSError:
                    continue  # closed and the number reused: epoll dropped the watch with the file
                found.append((key, 0))
        return found

    # -- the public interface
    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        """Starts watching `fileobj` (a socket, object with fileno(), or fd)
        for `events` (EVENT_READ | EVENT_WRITE); returns its SelectorKey.
        ValueError for bad events or a bad/closed file object, KeyError if
        already registered, OSError from the system (EBADF, EPERM)."""
        if (not events) or (events & ~_BOTH):
            raise ValueError(f"Invalid events: {events!r}")
        key = SelectorKey(fileobj, self._fileobj_lookup(fileobj), events, data)
        if key.fd in self._fd_to_key:
            raise KeyError(f"{fileobj!r} (FD {key.fd}) is already registered")
        self._fd_to_key[key.fd] = key
        try:
            self._c_register(key.fd, events)
        except BaseException:
            del self._fd_to_key[key.fd]
            raise
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        """Stops watching `fileobj` (also after it was closed); returns its
        key. KeyError if it is not registered."""
        try:
            key = self._fd_to_key.pop(self._fileobj_lookup(fileobj))
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        self._c_unregister(key.fd)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        """Changes the events and data of a registered file object; returns
        the new key. KeyError if it is not registered; on an OSError from
        the system it is unregistered, as in the standard library."""
        try:
            key = self._fd_to_key[self._fileobj_lookup(fileobj)]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        changed = False
        if events != key.events:
            wanted = (EVENT_READ if events & EVENT_READ else 0) | (EVENT_WRITE if events & EVENT_WRITE else 0)
            try:
                self._c_modify(key.fd, wanted, key.events)
            except BaseException:
                self._fd_to_key.pop(key.fd, None)
                self._c_unregister(key.fd)
                raise
            changed = True
        if data != key.data:
            changed = True
        if changed:
            key = key._replace(events=events, data=data)
            self._fd_to_key[key.fd] = key
        return key

    def select(self, timeout: Optional[float] = None) -> List[Tuple[selectors.SelectorKey, int]]:
        """Waits until a registered file object is ready or `timeout` seconds
        pass (None: forever; <= 0: just check); returns [(key, events)] for
        every ready one (events masked with the key's)."""
        if timeout is None:
            ms = -1
        elif timeout <= 0:
            if not self._idle and len(self._fd_to_key) <= self._cap and self._sel is not None:
                # The poll an event loop makes every turn: one call, nothing else.
                got = _select_now(*self._now_args)
                if got == 0:
                    return []
                if got > 0:
                    return self._ready(got, None)
            ms = 0
        else:
            ms = _timeout_ms(math.ceil(timeout * 1e3) * 1e-3)
        return self._select(ms)

    def _select(self, ms: int) -> List[Tuple[selectors.SelectorKey, int]]:
        fd_to_key = self._fd_to_key
        if len(fd_to_key) > self._cap:
            self._cap = max(len(fd_to_key), 2 * self._cap)
            self._out = (Event * self._cap)()
            self._ints = memoryview(self._out).cast("B").cast("i")
            self._nevents = ctypes.c_size_t(self._cap)
            self._now_args = (self._sel_arg, self._out, self._nevents, 0)
        if self._sel is None:
            raise _closed()
        started = time.monotonic() if ms > 0 else None
        hangups = self._idle_hangups() if self._idle else None
        if hangups:
            ms = 0
        try:
            # Room for every registered fd, as EpollSelector's maxevents.
            got = (_select_raw if ms else _select_now)(self._sel_arg, self._out, self._nevents, ms)
            if got <= 0:
                if got == 0:
                    return hangups or []
                if not ms:
                    got = _select_raw(self._sel_arg, self._out, self._nevents, ms)
                if got < 0:
                    if ctypes.get_errno() != errno.EINTR:
                        raise make_error(ctypes.get_errno())
                    # A signal: its handlers run (one that raises ends select),
                    # then the wait goes on with the time left (PEP 475).
                    handle_eintr()
                    got = retrying(lambda left: _select_raw(self._sel_arg, self._out, self._nevents, left),
                                   ms, lambda: 0, started)
                if got == 0:
                    return hangups or []
        except BaseException as exc:
            if getattr(exc, "done", None) is None:
                # A signal handler's exception.
                exc.done = 0  # type: ignore[attr-defined]
            raise
        return self._ready(got, hangups)

    def _ready(self, got: int, hangups: Optional[list]) -> List[Tuple[selectors.SelectorKey, int]]:
        # sl_event {int fd; int events; void *data} read as ints, 4 per event.
        ints = self._ints[:4 * got].tolist()
        fd_to_key = self._fd_to_key
        ready = hangups or []
        for fd, events in zip(ints[0::4], ints[1::4]):
            key = fd_to_key.get(fd)
            if key:
                ready.append((key, events & key.events))
        return ready

    def close(self) -> None:
        """Frees the C selector; the registered file objects stay open.
        Afterwards get_map() is None, get_key() RuntimeError, register() and
        select() ValueError."""
        if self._sel is not None:
            lib.sl_selector_free(self._sel)
            self._sel = None
        self._fd_to_key.clear()
        self._idle.clear()
        self._files.clear()
        self._cbits.clear()
        self._map = None

    # None once closed, as the standard library returns it (typeshed omits that).
    def get_map(self) -> Optional[Mapping]:  # type: ignore[override]
        """A live read-only mapping of registered file objects to keys (None
        once closed): lookups by file object or fd, iteration over fds."""
        return self._map

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        """The SelectorKey of a registered file object. KeyError if it is not
        registered, RuntimeError once the selector is closed."""
        return super().get_key(fileobj)

    def fileno(self) -> int:
        """The epoll fd behind the selector (as EpollSelector.fileno())."""
        if self._sel is None:
            raise _closed()
        if self._epfd is None:
            raise OSError("the selector's epoll fd could not be identified")
        return self._epfd

    def __del__(self) -> None:
        if getattr(self, "_sel", None) is not None:
            self.close()


def _timeout_ms(seconds: float) -> int:
    """A positive timeout in seconds to epoll's milliseconds, rounded up, with
    select.epoll's errors for what does not fit."""
    ns = math.ceil(seconds * 1e9)
    if ns >= 2**63:
        raise OverflowError("timestamp out of range for platform time_t")
    ms = -(-ns // 1_000_000)
    if ms > INT_MAX:
        raise OverflowError("timeout is too large")
    return ms
