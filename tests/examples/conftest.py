"""Running the C examples for end-to-end tests: servers on ephemeral loopback
ports (parsed from their "listening on HOST:PORT" line), clients with a bounded
run time, optional valgrind, and a Python peer toolkit."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# SL_EXAMPLES_BIN points at another build of the examples (make
# test-examples-asan: ASan+UBSan), which valgrind cannot run.
BIN = pathlib.Path(os.environ.get("SL_EXAMPLES_BIN", ROOT / "build" / "examples"))
VALGRIND = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect", "--child-silent-after-fork=yes"]


def have_valgrind():
    return shutil.which("valgrind") is not None and "SL_EXAMPLES_BIN" not in os.environ


class Server:
    """An example server on 127.0.0.1 with port 0; stops with SIGTERM."""

    def __init__(self, name, *args, valgrind=False):
        cmd = [str(BIN / name), "127.0.0.1", "0", *args]
        if valgrind:
            cmd = VALGRIND + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.port = None
        deadline = time.monotonic() + (30 if valgrind else 5)
        first = self.proc.stdout.readline()
        m = re.search(r"listening on .*?:(\d+)", first)
        if not m or time.monotonic() > deadline:
            self.proc.kill()
            raise AssertionError(f"{name} did not start: {first!r} {self.proc.stderr.read()}")
        self.port = int(m.group(1))

    def stop(self, timeout=30):
        """SIGTERM, then returns (exit code, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"server did not stop on SIGTERM: {err}")
        return self.proc.returncode, out, err


def run(name, *args, input=None, valgrind=False, timeout=30):
    cmd = [str(BIN / name), *map(str, args)]
    if valgrind:
        cmd = VALGRIND + cmd
    return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def server():
    started = []

    def start(name, *args, valgrind=False):
        s = Server(name, *args, valgrind=valgrind)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.communicate()
