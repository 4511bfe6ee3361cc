"""The SingleStepTests x86 vectors on the translator (``-accel tcg``).

Acceptance: every vector the interpreter passes also passes on tcg.  The
conformance Runner makes the translator translate every block at first sight
(``hot_threshold = 1``) and a one-instruction budget gives a one-instruction
block, so each vector runs as translated code, not on the interpreter's slow
path.

Default CI runs the whole suites on tcg (about a minute), held to
``known_failures.json`` exactly as the interpreter is (the list
``test_vectors.py`` keeps honest; it is empty), and a deterministic subset --
the first ``SUBSET`` vectors of every file of both suites, on each suite's
CPU model -- on the interpreter and on tcg side by side, requiring the same
verdicts vector by vector.
"""

import os

import pytest

from emu.conformance import Runner, load_metadata

from .test_vectors import known_failures, params

SUBSET = 20


@pytest.fixture(scope="module")
def runners(suite_dir):
    """One Runner per (cpu, engine), shared by every file of the module, with
    the suite's metadata and directory."""
    made = {}

    def get(cpu, accel):
        if (cpu, accel) not in made:
            d = suite_dir(cpu)
            made[cpu, accel] = (Runner(cpu, accel), load_metadata(d), d)
        return made[cpu, accel]

    yield get
    for r, _, _ in made.values():
        r.close()


def _run(runners, cpu, accel, name, limit):
    runner, meta, d = runners(cpu, accel)
    details = {}
    r = runner.run_file(os.path.join(d, name), meta, limit=limit, details=details)
    return r, details.get(name, {})


def _known(cpu, name):
    return {str(k) for k in known_failures()[cpu].get(name, {})}


def _describe(ids, details):
    return "\n".join(f"  #{vid}: {'; '.join(details.get(int(vid), details.get(vid, []))[:8])}"
                     for vid in ids[:20])


@pytest.mark.parametrize("cpu,name", params("subset"))
def test_vector_subset_same_as_interp(runners, cpu, name):
    ri, _ = _run(runners, cpu, "interp", name, SUBSET)
    rt, details = _run(runners, cpu, "tcg", name, SUBSET)
    assert rt["total"] == ri["total"] > 0
    fi = {str(i) for i in ri["failed_ids"]}
    ft = {str(i) for i in rt["failed_ids"]}
    new = sorted(ft - fi, key=int)
    assert not new, f"{cpu} {name}: fail on tcg but pass on interp:\n" + _describe(new, details)
    gone = sorted(fi - ft, key=int)
    assert not gone, f"{cpu} {name}: fail on interp but pass on tcg: {', '.join(gone)}"
    unknown = sorted(ft - _known(cpu, name), key=int)
    assert not unknown, f"{cpu} {name}: failures not in known_failures.json:\n" + _describe(unknown, details)
    assert not rt["unsupported_ids"], f"tcg cannot run {rt['unsupported_ids']}"
    assert rt["passed"] == ri["passed"]


@pytest.mark.parametrize("cpu,name", params("full"))
def test_vector_file_tcg(runners, cpu, name):
    r, details = _run(runners, cpu, "tcg", name, None)
    known = _known(cpu, name)
    failed = {str(i) for i in r["failed_ids"]}
    new = sorted(failed - known, key=int)
    fixed = sorted(known - failed, key=int)
    assert not new, (f"{cpu} {name}: {len(new)} vector(s) fail on tcg that known_failures.json "
                     f"does not list:\n" + _describe(new, details))
    assert not fixed, f"{cpu} {name}: listed in known_failures.json but pass on tcg: {', '.join(fixed)}"
    assert not r["unsupported_ids"], f"tcg cannot run {r['unsupported_ids']}"
