"""A run that ends at its instruction limit ends after the last instruction
has been served whole: an instruction that makes several MMIO accesses
hands the Machine one exit per ``run()`` of its engine, and the ones it
still holds when the budget is spent are served before the run returns
(``Accelerator.take_queued_exit``) -- not at the start of the next run, as
if they belonged to the instruction after it.  (The ARM side of this, an
STM on a recorded bus, is in tests/conformance/test_vectors_arm.py.)"""

import pytest

from emu.isa.x86.state import SS, Segment
from emu.machine import Machine


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_pusha_outside_ram_is_served_whole_within_a_limit_of_one(accel):
    # PUSHA with SS:SP beyond the 64 KiB of RAM: eight word writes to the
    # (unassigned) MMIO bus, one instruction
    m = Machine("x86-none", accel=accel, cpu="286" if accel != "unicorn" else "max",
                memory=64 << 10)
    try:
        writes = []
        m.add_exit_observer(lambda ex: writes.append(ex.addr) if ex.reason == "MMIO" else None)
        m.load_image(bytes([0x60, 0xF4]), "pusha")          # pusha; hlt
        s = m.cpu
        s.segs[SS] = Segment.real(0x2000)
        s.regs[4] = 0x100
        m.accel.state_changed()
        r = m.run(icount_limit=1)
        assert (r.reason, r.icount) == ("limit", 1)
        assert sorted(writes) == sorted(0x20100 - 2 * k for k in range(1, 9))
        r = m.run(icount_limit=1)
        assert r.reason == "halt" and writes[8:] == []
    finally:
        m.close()
