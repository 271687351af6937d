"""The package as a user gets it: a platform wheel with a stripped library
built by the package's own backend, SOCKLOOP_LIB as an override, a version
check, and a clear message when there is no Rust toolchain to build with."""
import ctypes
import glob
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

import sockloop
from sockloop import _native
from conftest import INSTALLED, ROOT

DIST = pathlib.Path(os.environ.get("SOCKLOOP_DIST", ROOT / "build" / "pydist"))
BUILD_PY = ROOT / "build" / "venv" / "bin" / "python"  # has setuptools-rust after make python-package


def wheel():
    found = sorted(DIST.glob("sockloop-*.whl"))
    if not found:
        pytest.skip("no wheel built (make python-package)")
    return found[-1]


def elf_sections(data):
    """Section names of a 64-bit little-endian ELF image."""
    import struct
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def section(i):
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
    strtab = section(shstrndx)
    names = data[strtab[4]:strtab[4] + strtab[5]]
    return {names[section(i)[0]:names.index(b"\0", section(i)[0])].decode() for i in range(shnum)}


def test_the_wheel_is_tagged_for_the_platform_and_carries_a_stripped_library():
    whl = wheel()
    import re
    assert re.search(rf"-py3-none-(manylinux_\d+_\d+|linux)_{os.uname().machine}\.whl$", whl.name), whl.name
    with zipfile.ZipFile(whl) as z:
        libs = [n for n in z.namelist() if n.startswith("sockloop/_libsockloop") and n.endswith(".so")]
        assert len(libs) == 1, z.namelist()
        data = z.read(libs[0])
        assert "Root-Is-Purelib: false" in z.read("sockloop-%s.dist-info/WHEEL" % sockloop.__version__).decode()
        assert "sockloop/py.typed" in z.namelist()
    sections = elf_sections(data)
    assert ".debug_info" not in sections and ".debug_line" not in sections, "the library is stripped"
    assert len(data) < 1 << 20, f"{len(data)} bytes"


def test_the_sdist_carries_the_crate():
    found = sorted(DIST.glob("sockloop-*.tar.gz"))
    if not found:
        pytest.skip("no sdist built (make python-package)")
    import tarfile
    with tarfile.open(found[-1]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for needed in ("rust/Cargo.toml", "rust/Cargo.lock", "rust/build.rs", "rust/src/lib.rs", "setup.py",
                   "sockloop/__init__.py", "sockloop/py.typed"):
        assert needed in names, needed


@pytest.mark.skipif(not INSTALLED, reason="checks the installed package")
def test_the_installed_package_loads_its_own_library():
    path = pathlib.Path(sockloop.library_path())
    assert path.parent == pathlib.Path(sockloop.__file__).parent and path.name.startswith("_libsockloop")


def run_python(code, **env):
    full = {k: v for k, v in os.environ.items() if k != "SOCKLOOP_LIB"}
    full.update(env)
    if not INSTALLED:
        full["PYTHONPATH"] = str(ROOT / "bindings" / "python")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd="/")


def test_sockloop_lib_overrides_the_bundled_library(tmp_path):
    built = ROOT / "build" / "lib" / "libsockloop.so"
    if not built.exists():
        pytest.skip("no build/lib/libsockloop.so")
    copy = tmp_path / "libsockloop-dev.so"
    shutil.copy(built, copy)
    out = run_python("import sockloop; print(sockloop.library_path())", SOCKLOOP_LIB=str(copy))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(copy)
    # An override that does not load is an error, never a silent fallback.
    out = run_python("import sockloop", SOCKLOOP_LIB=str(tmp_path / "missing.so"))
    assert out.returncode != 0 and "missing.so" in out.stderr and "SOCKLOOP_LIB" in out.stderr


class FakeLib:
    def __init__(self, number, text):
        self.sl_version = lambda: number
        self.sl_version_string = lambda: text


def test_a_library_of_another_version_is_refused():
    with pytest.raises(ImportError) as info:
        _native._check_version(FakeLib(0x090807, b"9.8.7"), "/x/libsockloop.so")
    text = str(info.value)
    assert "9.8.7" in text and sockloop.__version__ in text and "/x/libsockloop.so" in text
    _native._check_version(FakeLib(_native.version_number(sockloop.__version__), b""), "/x")  # the same: fine
    if hasattr(_native.lib, "sl_version"):
        assert _native.lib.sl_version() == _native.version_number(sockloop.__version__)


def test_the_package_version_is_the_crates():
    cargo = (ROOT / "Cargo.toml").read_text()
    version = next(line.split('"')[1] for line in cargo.splitlines() if line.startswith("version = "))
    assert sockloop.__version__ == version
    pyproject = (ROOT / "bindings" / "python" / "pyproject.toml").read_text()
    assert f'version = "{version}"' in pyproject


def test_without_a_rust_toolchain_the_install_fails_saying_what_to_install(tmp_path):
    probe = subprocess.run([str(BUILD_PY), "-c", "import setuptools_rust"], capture_output=True) \
        if BUILD_PY.exists() else None
    if probe is None or probe.returncode != 0:
        pytest.skip("build/venv has no setuptools-rust (make python-package installs it)")
    src = tmp_path / "src"
    shutil.copytree(ROOT / "bindings" / "python", src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    shutil.copytree(ROOT / "src", src / "rust" / "src")
    for name in ("Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml"):
        shutil.copy(ROOT / name, src / "rust" / name)
    path = ":".join(p for p in ("/usr/bin", "/bin") if not os.path.exists(os.path.join(p, "cargo")))
    env = {"PATH": f"{BUILD_PY.parent}:{path}", "HOME": str(tmp_path)}
    out = subprocess.run([str(BUILD_PY), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                          "-w", str(tmp_path / "out"), str(src)], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "no Rust toolchain" in text and "rustup.rs" in text and "apt-get install cargo" in text, text[-2000:]
    assert not list((tmp_path / "out").glob("*.whl")) if (tmp_path / "out").exists() else True
