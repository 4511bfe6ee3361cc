"""The A32 lockstep rules (emu/isa/arm/lockstep.py) that ``emu diff`` compares
two engines by: a difference in any one register, banked ones included, is
reported by its name; nothing is masked."""

from emu.isa import get_target
from emu.isa.arm.state import FIQ, IRQ, SVC

RULES = get_target("arm").lockstep()


def states():
    a = get_target("arm").new_state()
    for k in range(15):
        a.r[k] = 0x1000 * k + 7
    a.pc = 0x40010000
    return a, a.copy()


def test_identical_states_compare_equal():
    a, b = states()
    assert RULES.compare(a, b) == []
    assert "<--" not in RULES.side_by_side(a, b, ("interp", "unicorn"))


def test_a_planted_difference_in_one_register_is_reported():
    a, b = states()
    b.r[5] ^= 0x10
    assert RULES.compare(a, b) == ["r5 0x5007 != 0x5017"]
    text = RULES.side_by_side(a, b, ("interp", "unicorn"))
    assert [ln.split()[0] for ln in text.splitlines() if ln.endswith("<--")] == ["r5"]


def test_a_difference_in_a_bank_is_named_by_its_bank():
    """The current mode's SP is its bank's; the other banks and the SPSRs
    are compared as well, though no instruction shows them."""
    a, b = states()
    for s in (a, b):
        s.set_cpsr(0xC0 | IRQ)
    b.r[13] += 4
    assert RULES.compare(a, b) == [f"sp_irq 0x{a.r[13]:x} != 0x{b.r[13]:x}"]
    a, b = states()
    b.set_cpsr(0xC0 | FIQ)
    b.r[9] = 1                    # r9_fiq: invisible once back in SVC mode
    b.set_cpsr(0xC0 | SVC)
    b.spsr[IRQ] = 0x10
    assert RULES.compare(a, b) == ["r9_fiq 0x0 != 0x1", "spsr_irq 0x0 != 0x10"]


def test_a32_leaves_nothing_undefined():
    a, _ = states()
    insn = RULES.inspect(_Ram(bytes.fromhex("0500a0e3")), a)       # mov r0, #5
    assert insn.pc == a.pc and insn.text.startswith("mov r0, #5")
    assert RULES.undefined(insn, a) == (0, ())
    assert RULES.repeats_left(insn, a) is None


class _Ram:
    def __init__(self, code):
        self.code = code

    def contains(self, addr, size):
        return True

    def read_bytes(self, addr, size):
        return self.code[:size]
