"""The SingleStepTests x86 vectors on the interpreter.

One test per vector file, so a failure names the file and lists the vector
ids with what differed.  Every vector must pass except those listed, with a
reason, in ``known_failures.json``; a listed vector that starts passing fails
the test too, so the list stays honest.  Two more tests hold the suite totals
to the project's thresholds (8086 >= 99.0 %, 286 >= 99.5 %).

Runtime (measured on 2 cores): about 15 s for 8086/v1 (64,400 vectors) and
13 s for 80286/v1_real_mode (65,000), so the whole of both runs in default CI.
The files are those ``emu/vectors.json`` pins (the test ids come from there);
the ``suite_dir`` fixture (tests/conftest.py) finds them, checked, in the
cache ``make vectors`` fills or in a local copy, or fails saying to run it.
"""

import json
import os

import pytest

from emu.conformance import Runner, load_metadata, pass_rate
from emu.vectors import vector_files

SUITES = {"8086": 0.990, "286": 0.995}
KNOWN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "known_failures.json")


def params(tag=None):
    """(cpu, file) of every pinned vector file of both suites."""
    return [pytest.param(cpu, name, id=f"{tag + '-' if tag else ''}{cpu}-{name[:-8]}")
            for cpu in SUITES for name in vector_files(cpu)]


def known_failures() -> dict:
    with open(KNOWN) as f:
        data = json.load(f)
    return {cpu: data.get(cpu, {}) for cpu in SUITES}


@pytest.fixture(scope="module")
def results(suite_dir):
    """Per (cpu, file) results, shared by the per-file and the total tests;
    one Runner (one Machine) per CPU."""
    runners, metas, cache = {}, {}, {}

    def get(cpu, name):
        key = (cpu, name)
        if key not in cache:
            if cpu not in runners:
                runners[cpu] = Runner(cpu, "interp")
                metas[cpu] = load_metadata(suite_dir(cpu))
            details = {}
            r = runners[cpu].run_file(os.path.join(suite_dir(cpu), name), metas[cpu],
                                      details=details)
            cache[key] = (r, details.get(name, {}))
        return cache[key]

    yield get
    for r in runners.values():
        r.close()


@pytest.mark.parametrize("cpu,name", params())
def test_vector_file(results, cpu, name):
    r, details = results(cpu, name)
    known = {str(k): v for k, v in known_failures()[cpu].get(name, {}).items()}
    failed = {str(i) for i in r["failed_ids"]}
    new = sorted(failed - set(known), key=int)
    fixed = sorted(set(known) - failed, key=int)
    msgs = []
    for vid in new[:20]:
        d = details.get(int(vid), details.get(vid, []))
        msgs.append(f"  #{vid}: {'; '.join(d[:8])}")
    assert not new, (f"{cpu} {name}: {len(new)} vector(s) fail that known_failures.json "
                     f"does not list:\n" + "\n".join(msgs))
    assert not fixed, (f"{cpu} {name}: listed in known_failures.json but now passing "
                       f"(remove them): {', '.join(fixed)}")
    assert not r["unsupported_ids"], f"interp cannot run {r['unsupported_ids']}"
    assert r["passed"] + len(r["failed_ids"]) + len(r["skipped_ids"]) == r["total"]


@pytest.mark.parametrize("cpu", list(SUITES))
def test_suite_threshold(results, cpu):
    total = {"passed": 0, "failed": 0}
    for name in vector_files(cpu):
        r, _ = results(cpu, name)
        total["passed"] += r["passed"]
        total["failed"] += len(r["failed_ids"])
    threshold = SUITES[cpu]
    assert total["passed"] + total["failed"] > 60000
    assert pass_rate(total) >= threshold, (
        f"{cpu}: {100 * pass_rate(total):.2f}% of vectors pass, below {100 * threshold:.1f}%")


def test_known_failures_file_is_well_formed():
    data = known_failures()
    for cpu, files in data.items():
        for name, ids in files.items():
            assert name.endswith(".json.gz"), f"{cpu}: {name} is not a vector file name"
            for vid, reason in ids.items():
                assert str(vid).isdigit(), f"{cpu} {name}: id {vid!r} is not a test number"
                assert isinstance(reason, str) and reason.strip(), \
                    f"{cpu} {name} #{vid}: a known failure needs a reason"
