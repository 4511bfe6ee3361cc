"""emu/coverage.py and the x86 Target's part of it (emu/isa/x86/coverage.py):
the coverage report lists exactly the decoded encodings without semantics,
and the modules' GAPS lists."""

import pytest

from emu import coverage
from emu.isa.x86 import coverage as x86_coverage
from emu.isa.x86 import paging, pm_interrupts
from emu.isa.x86.decode import tables
from emu.isa.x86.semantics import REGISTRY


@pytest.mark.parametrize("model", ["8086", "286", "max"])
def test_lists_exactly_the_rows_without_semantics(model):
    listed = {(op, name) for op, name, _ in x86_coverage.unimplemented(model)}
    for row in tables(model).rows():
        has = REGISTRY.get(row.name) is not None
        assert ((row.opcode, row.name) in listed) != has, f"{row} listed wrongly"


def test_a_missing_semantic_function_shows_up(monkeypatch):
    monkeypatch.delitem(REGISTRY.table, "DAA")
    rows = x86_coverage.unimplemented("8086")
    assert ("27", "DAA", "-") in rows
    assert "27  DAA" in coverage.report("8086")


def test_gaps_come_from_the_modules():
    gaps = x86_coverage.gaps()
    for g in paging.GAPS + pm_interrupts.GAPS:
        assert g in gaps
    assert paging.GAPS[0] in coverage.report("max")


def test_report_counts_and_unknown_cpu():
    text = coverage.report("286")
    n = len({(r.opcode, r.name) for r in tables("286").rows()})
    assert text.splitlines()[0].startswith("x86 -cpu 286: ")
    assert text.splitlines()[0].endswith(f"of {n} decoded encodings have semantics")
    with pytest.raises(ValueError, match="unknown -cpu"):
        coverage.report("z80")
