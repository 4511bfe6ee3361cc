"""A batch graded on a Dask distributed cluster (``--cluster tcp://HOST:PORT``).

Each submission is one task; a worker runs it as ``python -m
emu.grade.task`` in a process of its own (its address space and CPU time
limited, as with ``--jobs``), and sends back the results, which this
side writes: NAME.json, the replay files and the summary row.  The
workers read the spec and the submission folders at the paths given here
(a shared file system, or the same machine); kasou must be installed
where they run.  Needs the optional ``cluster`` extra (``dask[distributed]``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .task import failed, name_of, store

TASK_TIMEOUT = 3600             # seconds of wall clock per submission, a safety net
CONNECT_TIMEOUT = "10s"


class ClusterError(Exception):
    """The cluster cannot be used (one line)."""


def run_task(spec_path: str, folder: str, accel: str | None, replays: bool) -> tuple:
    """On a worker: (exit status, stdout, the last line of stderr) of one
    submission graded by ``python -m emu.grade.task``."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p))
    argv = [sys.executable, "-m", "emu.grade.task", spec_path, folder, accel or "-"]
    try:
        p = subprocess.run(argv + (["--replays"] if replays else []), capture_output=True,
                           text=True, env=env, timeout=TASK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, "", f"no result after {TASK_TIMEOUT} s"
    err = p.stderr.strip().splitlines()
    return p.returncode, p.stdout, err[-1] if err else ""


def grade_on_cluster(address: str, spec, folders: list, out_dir: str, replay_dir,
                     accel, bar) -> dict:
    """folder -> summary row, each submission graded as a task on the
    scheduler at ``address``."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ClusterError("needs dask's distributed scheduler (the 'cluster' extra: "
                           "pip install -e .[cluster])") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as e:
        raise ClusterError(f"cannot reach the scheduler ({e}); expected a running "
                           f"dask scheduler at tcp://HOST:PORT") from None
    spec_path = os.path.abspath(spec.path)
    done = {}
    try:
        futures = {client.submit(run_task, spec_path, os.path.abspath(f), accel,
                                 replay_dir is not None, key=f"grade-{i}-{name_of(f)}",
                                 pure=False): f
                   for i, f in enumerate(folders)}
        for future in as_completed(futures):
            folder = futures[future]
            status, out, err = future.result()
            if status == 0:
                done[folder] = store(out_dir, replay_dir, folder, json.loads(out))
            else:
                why = f"exit status {status}" + (f": {err}" if err else "")
                done[folder] = failed(spec, name_of(folder), out_dir, why)
            if bar is not None:
                bar.update(1)
    finally:
        client.close()
    return done
