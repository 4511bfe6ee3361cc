"""emu grade --cluster: the batch as tasks of a Dask distributed cluster
(here a LocalCluster of two worker processes) gives what --jobs gives."""

import json
import os

import pytest
from distributed import LocalCluster

from emu.cli import main

LAB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tutorials", "grading-x86")
SPEC = os.path.join(LAB, "strlen.toml")
SUBS = sorted(os.path.join(LAB, "submissions", s) for s in os.listdir(os.path.join(LAB, "submissions")))


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as c:
        yield c.scheduler_address


def _results(folder):
    """Every file the batch wrote, the JSON without its wall-clock time."""
    out = {}
    for base, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(base, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if name.endswith(".json"):
                doc = json.loads(text)
                doc.pop("execution_time", None)
                text = doc
            out[os.path.relpath(path, folder)] = text
    return out


def _batch(tmp_path, capsys, subs, *how):
    out = tmp_path / "_".join(how).replace("/", "").replace(":", "")
    assert main(["grade", SPEC, *subs, "--out-dir", str(out / "results"),
                 "--replay", str(out / "replays"), *how]) == 0
    return capsys.readouterr().out, _results(out)


def test_same_summary_as_jobs(tmp_path, capsys, cluster):
    local = _batch(tmp_path, capsys, SUBS, "--jobs", "2")
    remote = _batch(tmp_path, capsys, SUBS, "--cluster", cluster)
    assert remote[1] == local[1]            # every file: results, summary, replays
    assert remote[0] == local[0]            # what it printed
    assert "results/summary.csv" in remote[1] and "replays/faults/empty-string.replay.json" in remote[1]


@pytest.mark.slow
def test_500_submissions(tmp_path, capsys, cluster):
    subs = [SUBS[i % len(SUBS)] for i in range(500)]
    folders = []
    for i, s in enumerate(subs):        # 500 distinct folders: each is a row
        link = tmp_path / "subs" / f"{os.path.basename(s)}-{i:03d}"
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(s)
        folders.append(str(link))
    local = _batch(tmp_path, capsys, folders, "--jobs", "2")
    remote = _batch(tmp_path, capsys, folders, "--cluster", cluster)
    assert remote[1] == local[1]            # every file: results, summary, replays
    assert remote[0] == local[0]            # what it printed
    assert local[0].startswith("500 submissions\n")


def test_unreachable_scheduler_is_one_line(tmp_path, capsys):
    assert main(["grade", SPEC, *SUBS[:2], "--out-dir", str(tmp_path), "--cluster", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emu grade: --cluster nonsense: cannot reach the scheduler (")
    assert err.count("\n") == 1
