"""Every ```python block of the package README runs, as written."""
import pathlib
import re

import pytest

from conftest import ROOT

README = ROOT / "bindings" / "python" / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, capsys):
    exec(compile(BLOCKS[index], f"README.md block {index + 1}", "exec"), {"__name__": "__readme__"})


SH_BLOCKS = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)


def test_the_readme_install_command_installs_a_working_package(tmp_path):
    """The ```sh block: `pip install ./bindings/python` from the repository
    root into a fresh venv builds the library and installs a package that
    works. (Once per make test: in the source-tree and wheel passes.)"""
    import os
    import shutil
    import subprocess
    import sys
    from conftest import INSTALLED
    if INSTALLED and os.environ.get("SOCKLOOP_PASS") != "wheel":
        pytest.skip("run once, in the wheel pass")
    if shutil.which("cargo") is None:
        pytest.skip("no cargo")
    commands = [line.split("#")[0].strip() for block in SH_BLOCKS for line in block.splitlines()]
    commands = [c for c in commands if c]
    assert commands == ["pip install ./bindings/python"], commands
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    leftovers = [ROOT / "bindings" / "python" / d for d in ("build", "sockloop.egg-info")]
    existed = {p: p.exists() for p in leftovers}
    env = {k: v for k, v in os.environ.items() if k not in ("SOCKLOOP_LIB", "PYTHONPATH")}
    env["CARGO_TARGET_DIR"] = str(ROOT / "target" / "python")  # as make python-package builds
    try:
        out = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                              "./bindings/python"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]
    finally:
        for p, was in existed.items():
            if not was and p.exists():
                shutil.rmtree(p)
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import socket, sockloop; a, b = socket.socketpair(); sockloop.send_all(a, b'hi'); "
                          "print(sockloop.recv_exact(b, 2, timeout=1), sockloop.library_path())"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("b'hi'") and str(venv) in out.stdout
