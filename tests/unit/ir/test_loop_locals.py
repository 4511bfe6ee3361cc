"""A region's counted-loop attempt that is given up (its lines discarded,
the section generated again as a ``while True`` loop) gives back the
locals it named, and with them the expressions it had kept in those locals
(:meth:`emu.ir.codegen.PyCodegen.atomic`): otherwise a local handed out
again for another address still stood for the first one, and a store
through it went to the wrong stack slot.

The guest is GCC's -O2 code for Ackermann's function
(tests/guests/x86/ack_gcc_o2.S: the recursion unrolled into loops over
stack slots), whose regions of up to 48 blocks made such an attempt.

The locals a region's prologue computes (:meth:`emu.ir.codegen.RegionCodegen.hoist`)
are given back the same way: a loop too big to be peeled (no probe of it
first) hoists its invariant address while surveying its paths back; a
section generated after it (an entry the loop never reaches) hoists another
address, and must not receive the first one's local."""

import os

from emu.loader import load_guest
from emu.machine import Machine
from tests.differential.translated import stopped_at, tcg_regions

GUEST = os.path.join(os.path.dirname(__file__), "..", "..", "guests", "x86", "ack_gcc_o2.S")


def ack(m: int, n: int) -> int:
    """Ackermann's function, with a list for a stack (the model)."""
    stack = [m]
    while stack:
        m = stack.pop()
        if m == 0:
            n += 1
        elif n == 0:
            stack.append(m - 1)
            n = 1
        else:
            stack += [m - 1, m]
            n -= 1
    return n


def test_gcc_o2_ackermann_is_exact_in_regions_of_48_blocks():
    want = sum(ack(2, n) + ack(3, n) for n in range(1, 7)) & 0xFFFFFFFF
    img = load_guest(GUEST, board="pc")
    m = Machine(accel="tcg")
    try:
        m.accel.max_region_blocks = 48
        m.load_image(img.data, img.name, img.entry)
        r = m.run()
        assert (r.reason, r.status) == ("debug-exit", 1), r.message      # wrote 0
        assert m.serial_output() == f"{want:08x}\n".encode()
        assert m.accel.stats()["regions_translated"] > 0
    finally:
        m.close()


# a loop of 63 instructions (more IR than a loop that is peeled) storing to
# one address, entered at ``outer`` from the next page every pass, which
# stores to another
HOISTED = """
    xor ax, ax
    mov ds, ax
    mov bp, 50
outer:
    mov [0x700], bp
    mov cx, 100
inner:
    mov [0x600], cx
""" + "\n".join(["    add ax, cx", "    xor bx, ax", "    rol bx, 1"] * 20) + """
    loop inner
    jmp away
    .space 4096
away:
    dec bp
    jnz outer
    mov [0x500], ax
    mov [0x502], bx
    hlt
"""


def run_hoisted(accel, limit, log=None):
    """How the run stopped, the state, and RAM from 0x500 to 0x701."""
    return stopped_at(HOISTED, accel, 1 << 20, limit, (0x500, 0x202), log)


def test_a_survey_gives_back_the_prologues_locals():
    want = run_hoisted("interp", 1_000_000)
    dump = want[-1]
    assert want[0] == "halt" and dump[0x100:0x102] == dump[0x200:0x202] == b"\x01\x00"
    regions = tcg_regions(run_hoisted, 1_000_000)
    both = [r for r in regions if "B3 + 1536" in r and "B3 + 1792" in r]
    assert both, "no region holds both addresses"
    for code in both:
        prologue = [ln.split(" = ")[0].strip() for ln in code.splitlines()
                    if ln.startswith("    ") and not ln.startswith("     ") and " = " in ln]
        assert len(prologue) == len(set(prologue)), prologue
    assert run_hoisted("tcg", 1_000_000) == want
