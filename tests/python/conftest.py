"""Shared fixtures: the library loaded with ctypes, with the signatures the tests use.

Each test module declares the argtypes/restype of the functions it calls via
`declare(lib, name, restype, *argtypes)`, so a wrong signature fails loudly.
"""
import ctypes
import ctypes.util
import os
import pathlib

import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The package under test: the source tree by default (with the library from
# `make`), or, with SOCKLOOP_TEST_INSTALLED=1 (make test-python-dist), the
# package installed in the running interpreter, with its own library.
INSTALLED = os.environ.get("SOCKLOOP_TEST_INSTALLED") == "1"
if not INSTALLED:
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    os.environ.setdefault("SOCKLOOP_LIB", str(ROOT / "build" / "lib" / "libsockloop.so"))


import sockloop  # noqa: E402

if INSTALLED:
    assert "site-packages" in sockloop.__file__, f"testing {sockloop.__file__}, not the installed package"


def load_library():
    """The library the package under test loaded."""
    import sockloop
    return ctypes.CDLL(sockloop.library_path(), use_errno=True)


def declare(lib, name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


@pytest.fixture(scope="session")
def lib():
    return load_library()
