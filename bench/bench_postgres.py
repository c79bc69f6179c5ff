"""A throw-away database in the private PostgreSQL cluster (``scripts/postgres.sh``), for the bench scripts."""

from __future__ import annotations

import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

SCRIPT = str(Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh")


@dataclass
class BenchDatabase:
    url: str  # DATABASE_URL of the fresh database
    admin_url: str  # the cluster's /postgres database, to drop it afterwards
    started_cluster: bool  # this run started the cluster (stop it afterwards unless told not to)
    version: str  # e.g. "15.18"
    host: str
    port: int


def fresh_database(name: str) -> BenchDatabase:
    """Start the private cluster if needed, then drop and create database ``name`` in it."""
    import psycopg

    started = False
    if subprocess.run([SCRIPT, "status"], capture_output=True, text=True).returncode != 0:
        print("  starting the private PostgreSQL cluster (scripts/postgres.sh start)", flush=True)
        run = subprocess.run([SCRIPT, "start"], capture_output=True, text=True, timeout=180)
        if run.returncode != 0:
            raise RuntimeError("scripts/postgres.sh start failed:\n" + run.stdout + run.stderr)
        started = True
    server = urllib.parse.urlsplit(subprocess.run([SCRIPT, "url"], capture_output=True, text=True, check=True).stdout.strip())
    admin_url = urllib.parse.urlunsplit((server.scheme, server.netloc, "/postgres", "", ""))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    url = urllib.parse.urlunsplit((server.scheme, server.netloc, "/" + name, "", ""))
    return BenchDatabase(url, admin_url, started, version, server.hostname, server.port)


def stop_private_cluster():
    subprocess.run([SCRIPT, "stop"], capture_output=True, timeout=120)
