"""The SingleStepTests x86 vectors on unicorn: a second opinion, not a pass mark.

Unicorn (QEMU's TCG modelling a modern x86) is neither an 8086 nor a 286, so
it is not required to pass.  What it does on every vector is recorded, with
a category, in ``known_unicorn_disagreements.json`` (written by
``tools/unicorn_conformance_report.py --known``, explained in
``docs/unicorn-vs-captures.md``).  These tests hold kasou's unicorn engine to
that record: a vector that starts to disagree (a regression in the engine,
or in the runner's use of it) fails, and so does a listed one that now
agrees (the list must be updated, so it stays honest).

Default CI: the first ``SUBSET`` vectors of every file of both suites, on one
Runner per suite (about 20 s here).  The whole suites: ``@pytest.mark.slow``
(about 1 minute for the 286 suite, 2 for the 8086 suite, on 2 cores).
"""

import gzip
import json
import os
import sys

import pytest

from emu.conformance import Runner, load_metadata
from emu.vectors import vector_files

from .test_vectors import SUITES

pytest.importorskip("unicorn")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KNOWN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "known_unicorn_disagreements.json")
SUBSET = 10

sys.path.insert(0, os.path.join(REPO, "tools"))
import unicorn_conformance_report as report  # noqa: E402


def known() -> dict:
    with open(KNOWN) as f:
        return json.load(f)["suites"]


@pytest.fixture(scope="module")
def runners(suite_dir):
    made = {}

    def get(cpu):
        if cpu not in made:
            d = suite_dir(cpu)
            made[cpu] = (Runner(cpu, "unicorn"), load_metadata(d), d)
        return made[cpu]

    yield get
    for r, _, _ in made.values():
        r.close()


def _check(runner, meta, cpu, path, names, limit):
    """Run ``names`` of ``cpu``'s suite (at most ``limit`` vectors each) and
    compare the failing ids with the record; returns (messages, vectors run)."""
    record = known().get(cpu, {})
    msgs, total = [], 0
    for name in names:
        details = {}
        r = runner.run_file(os.path.join(path, name), meta, limit=limit,
                            details=details)
        total += r["total"]
        assert r["passed"] + len(r["failed_ids"]) + len(r["unsupported_ids"]) == r["total"]
        want = {vid for vid in record.get(name, {}) if limit is None or int(vid) < limit}
        got = {str(v) for v in r["failed_ids"] + r["unsupported_ids"]}
        new = sorted(got - want, key=int)
        gone = sorted(want - got, key=int)
        d = details.get(name, {})
        for vid in new[:5]:
            msgs.append(f"{cpu} {name} #{vid} disagrees, not in the record: "
                        f"{'; '.join(d.get(int(vid), [])[:6])}")
        if len(new) > 5:
            msgs.append(f"{cpu} {name}: ... {len(new) - 5} more new disagreements")
        if gone:
            msgs.append(f"{cpu} {name}: recorded disagreement(s) now agree: "
                        f"{', '.join(gone[:20])}")
    return msgs, total


@pytest.mark.parametrize("cpu", list(SUITES))
def test_unicorn_subset_matches_record(runners, cpu):
    runner, meta, d = runners(cpu)
    msgs, total = _check(runner, meta, cpu, d, vector_files(cpu), SUBSET)
    assert total >= 10 * (len(vector_files(cpu)) - 1), f"{cpu}: only {total} vectors ran"
    assert not msgs, "\n".join(msgs)


def test_record_is_well_formed():
    data = known()
    assert set(data) == set(SUITES)
    for cpu, files in data.items():
        names = set(vector_files(cpu))
        assert files, f"{cpu}: an empty record (unicorn agrees with every vector?)"
        for name, ids in files.items():
            assert name in names, f"{cpu}: {name} is not a vector file"
            for vid, cat in ids.items():
                assert vid.isdigit(), f"{cpu} {name}: id {vid!r}"
                assert cat in report.REASONS and cat != "other", \
                    f"{cpu} {name} #{vid}: category {cat!r} is not explained"


def test_categories_follow_the_rules(suite_dir):
    """A few recorded vectors are classified again from the vector itself: the
    rules and the record must not drift apart."""
    data = known()
    seen = set()
    for cpu, files in data.items():
        path = suite_dir(cpu)
        meta = load_metadata(path)
        for name, ids in sorted(files.items()):
            cats = set(ids.values()) - seen
            if not cats:
                continue
            with gzip.open(os.path.join(path, name)) as f:
                vecs = json.load(f)
            for vid, cat in ids.items():
                if cat in seen:
                    continue
                seen.add(cat)
                got = report.categorise(cpu, name[:-8], vecs[int(vid)], meta, [])
                # rules that read the differences cannot be re-checked without them
                if cat not in ("flags-undefined", "flags-hi", "string", "unsupported"):
                    assert got == cat, f"{cpu} {name} #{vid}: recorded {cat}, rules say {got}"
    assert {"lock", "alias-186", "wrap-1m"} <= seen


@pytest.mark.slow
@pytest.mark.parametrize("cpu", list(SUITES))
def test_unicorn_full_suite_matches_record(suite_dir, cpu):
    d = suite_dir(cpu)
    runner = Runner(cpu, "unicorn")
    try:
        msgs, total = _check(runner, load_metadata(d), cpu, d, vector_files(cpu), None)
    finally:
        runner.close()
    assert total > 60000
    assert not msgs, "\n".join(msgs[:60])
