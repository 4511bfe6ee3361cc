"""Memory stays bounded whatever the guest does (emu/exits.py, emu/machine.py).

A guest that sweeps unassigned memory with REP MOVSD makes one MMIO exit
per doubleword, each at a new address: the exit statistics keep a bounded
number of entries while their totals stay exact, on every engine.
"""

import os

import pytest

from emu.exits import MAX_EXIT_KEYS
from emu.loader import assemble
from emu.machine import Machine

KVM = pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                   reason="/dev/kvm is absent on this host"))
DWORDS = 3000
ROUNDS = 3
# 64 KiB of RAM: ES = 0x2000 (linear 0x20000) is unassigned
SWEEP = f"""
    mov ax, 0x2000
    mov es, ax
    mov bx, {ROUNDS}
again:
    xor si, si
    xor di, di
    mov cx, {DWORDS}
    cld
    .byte 0xf3, 0x66, 0xa5                     # rep movsd
    dec bx
    jnz again
    mov al, 0
    out 0xf4, al
"""


def run(source, accel, memory=0x10000, **kw):
    img = assemble(source, "guest.S")
    m = Machine(accel=accel, memory=memory, **kw)
    m.load_image(img.data, img.name)
    try:
        return m, m.run(icount_limit=10_000_000)
    finally:
        m.close()


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", KVM])
def test_exit_stats_stay_bounded_and_exact_for_an_mmio_sweep(accel):
    m, r = run(SWEEP, accel)
    assert r.reason == "debug-exit" and r.status == 1, r.message
    st = m.stats
    writes = DWORDS * ROUNDS
    assert st.by_reason["MMIO"] == writes
    assert sum(st.by_key.values()) == writes + 1           # and the OUT to 0xf4
    assert len(st.by_key) == MAX_EXIT_KEYS + 2
    # the first addresses are counted one by one, ROUNDS times each; the
    # port (a kind of its own) too
    assert st.by_key["MMIO write 0x20000"] == ROUNDS
    assert st.by_key["MMIO write (other addresses)"] == writes - ROUNDS * MAX_EXIT_KEYS
    assert st.by_key["IO out 0xf4"] == 1
