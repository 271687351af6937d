"""Builds the platform wheel: compiles libsockloop from the Rust crate with
setuptools-rust, strips it, and puts it in the package as
sockloop/_libsockloop*.so, loaded with ctypes (no Python C API, so the wheel
is tagged py3-none-<platform>: any Python 3 on that platform).

The crate is the repository's (../../Cargo.toml) in a checkout, or the copy
an sdist carries in rust/. Without a Rust toolchain the build stops here
with a message that says what to install.
"""
import os
import pathlib
import re
import shutil

from setuptools import setup
from setuptools.command.sdist import sdist
from setuptools_rust import Binding, RustExtension, Strip
from setuptools_rust.build import build_rust

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = pathlib.Path(__file__).resolve().parent
SDIST_CRATE = "rust"
CRATE_FILES = ["Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml", "src"]
NO_RUST = """
sockloop builds its library from Rust source, and no Rust toolchain was found
(no `cargo` on PATH). Install one, then run pip again:
  - https://rustup.rs (curl ... | sh), or your system's packages
    (Debian/Ubuntu: apt-get install cargo rustc; Fedora: dnf install cargo),
    Rust 1.74 or newer;
  - or point CARGO at a cargo binary.
"""


def crate_dir() -> pathlib.Path:
    if (HERE / SDIST_CRATE / "Cargo.toml").exists():
        return HERE / SDIST_CRATE
    return HERE.parent.parent


class BuildRust(build_rust):
    """build_rust that first checks for cargo, and says what to install."""

    def run(self):
        if shutil.which(os.environ.get("CARGO", "cargo")) is None:
            raise SystemExit(NO_RUST)
        super().run()

    def get_dylib_ext_path(self, ext, target_fname):
        # _libsockloop.so, without the interpreter's tag: ctypes loads it.
        path = super().get_dylib_ext_path(ext, target_fname)
        return re.sub(r"\.(cpython|pypy)[^/]*\.so$", ".so", path)


class Sdist(sdist):
    """An sdist that carries the crate (in rust/), so it can build the library."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        crate = HERE.parent.parent
        dest = pathlib.Path(base_dir) / SDIST_CRATE
        for name in CRATE_FILES:
            src = crate / name
            if src.is_dir():
                shutil.copytree(src, dest / name, dirs_exist_ok=True)
            elif src.exists():
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
        for lic in crate.glob("LICENSE*"):
            shutil.copy2(lic, dest / lic.name)


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: the library is native, the Python code is not tied
    to one interpreter's ABI (ctypes only)."""

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(
    rust_extensions=[
        RustExtension(
            "sockloop._libsockloop",
            path=str(crate_dir() / "Cargo.toml"),
            binding=Binding.NoBinding,
            strip=Strip.All,
            py_limited_api=False,
        )
    ],
    cmdclass={"build_rust": BuildRust, "sdist": Sdist, "bdist_wheel": PlatformWheel},
)
