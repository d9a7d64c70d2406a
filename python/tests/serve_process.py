"""A real `weir serve` process for the client tests: the binary is
$WEIR_BIN (scripts/test sets it to the test build's `weir`); the server
binds 127.0.0.1 on any free port and is killed by PID afterwards."""

import contextlib
import os
import subprocess
import time

import pytest


def weir_bin():
    path = os.environ.get("WEIR_BIN")
    if not path or not os.path.exists(path):
        pytest.skip("WEIR_BIN is not set to a built weir binary (scripts/test sets it)")
    return path


@contextlib.contextmanager
def serving(root, *args):
    """`weir serve --root ROOT ARGS...`; yields its grpc:// URL."""
    proc = subprocess.Popen(
        [weir_bin(), "serve", "--root", str(root), "--bind", "127.0.0.1:0",
         "--cache-dir", str(root / "cache"), *args],
        stdout=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.time() + 60
        while "grpc://" not in line and time.time() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError("weir serve exited")
        yield next(w for w in line.split() if w.startswith("grpc://"))
    finally:
        proc.kill()
        proc.wait()
