"""Shared fixtures: the library loaded with ctypes, with the signatures the tests use.

Each test module declares the argtypes/restype of the functions it calls via
`declare(lib, name, restype, *argtypes)`, so a wrong signature fails loudly.
"""
import ctypes
import ctypes.util
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_library():
    path = os.environ.get("SOCKLOOP_LIB", str(ROOT / "build" / "lib" / "libsockloop.so"))
    return ctypes.CDLL(path, use_errno=True)


def declare(lib, name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


@pytest.fixture(scope="session")
def lib():
    return load_library()
