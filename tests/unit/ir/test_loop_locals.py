"""A region's counted-loop attempt that is given up (its lines discarded,
the section generated again as a ``while True`` loop) gives back the
locals it named, and with them the expressions it had kept in those locals
(:meth:`emu.ir.codegen.PyCodegen.atomic`): otherwise a local handed out
again for another address still stood for the first one, and a store
through it went to the wrong stack slot.

The guest is GCC's -O2 code for Ackermann's function
(tests/guests/x86/ack_gcc_o2.S: the recursion unrolled into loops over
stack slots), whose regions of up to 48 blocks made such an attempt."""

import os

from emu.loader import load_guest
from emu.machine import Machine

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
