"""The x86 store path's code test (``ConcreteOps._stored_near_code``): a
store into a 64-byte granule holding code drops the code only when it
writes one of the code bytes -- the first, the last or one in between --
and tells a running REP to stop (``rep_budget`` 0) so that rewritten code
is decoded again; data beside code in the same granule costs nothing."""

import pytest

from emu.machine import Machine

CODE = 0x1010          # two code bytes: 0x1010 and 0x1011


@pytest.fixture
def ops():
    m = Machine(accel="interp", memory=1 << 20)
    m.ram.mark_code(CODE, 2)
    ops = m.accel.core.ops
    ops.rep_budget = 5
    yield ops
    m.close()


@pytest.mark.parametrize("pa, size", [(0x1012, 4), (0x100C, 4), (0x100E, 2), (0x1020, 8)])
def test_data_beside_code_keeps_it(ops, pa, size):
    ops.write_phys(pa, size, 0x11223344)
    assert ops.rep_budget == 5 and ops.ram.holds_code(CODE, 2)


@pytest.mark.parametrize("pa, size", [(0x1010, 1), (0x100F, 2), (0x1011, 4), (0x100F, 4),
                                      (0x100E, 8)])
def test_a_store_onto_a_code_byte_drops_it(ops, pa, size):
    """(0x100F, 4) and (0x100E, 8) write the code bytes only in their middle."""
    ops.write_phys(pa, size, 0x11223344)
    assert ops.rep_budget == 0 and not ops.ram.holds_code(CODE, 2)


def test_a_segmented_store_takes_the_same_test(ops):
    ds = 3
    ops.store(ds, CODE - ops.segs[ds].base - 1, 4, 0)
    assert ops.rep_budget == 0 and not ops.ram.holds_code(CODE, 2)
