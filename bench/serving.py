"""What the benches that serve the site through gunicorn share: a free port, waiting for it, its CPU.

Imported as ``from serving import ...``: a bench runs as ``python bench/<name>.py``, which puts
``bench/`` first on ``sys.path``.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_healthz(port: int, server: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    """Return once ``/healthz`` answers 200; stop the bench with the server's log if it never does."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("gunicorn did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.3)


def server_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every process in gunicorn's process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # the fields after "(comm)": state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])
    return total / ticks
