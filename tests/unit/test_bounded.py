"""Memory and time stay bounded whatever the guest does (emu/exits.py,
emu/machine.py, emu/accel/unicorn.py).

A guest that sweeps unassigned memory with REP MOVSD makes one MMIO exit
per doubleword, each at a new address: the exit statistics keep a bounded
number of entries while their totals stay exact, on every engine.  A guest
that prints: the Machine's output log holds a bounded tail of it and
counts the rest.  On unicorn, a guest sweeping memory above 4 GiB maps no
new region per address, and one taking #UD in a loop does not move the
whole CPU state at every fault.
"""

import os
import tracemalloc

import pytest

from emu.exits import MAX_EXIT_KEYS
from emu.loader import assemble
from emu.machine import Machine

KVM = pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                   reason="/dev/kvm is absent on this host"))
GUESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "guests", "x86")
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


PRINTED = 3000
PRINT = f"""
    mov dx, 0x3f8
    xor cx, cx
again:
    mov al, cl
    out dx, al
    inc cx
    cmp cx, {PRINTED}
    jne again
    mov al, 0
    out 0xf4, al
"""
EXPECTED = bytes(i & 0xFF for i in range(PRINTED))


@pytest.mark.parametrize("keep", [0, 100, 1000, PRINTED])
def test_output_log_holds_at_most_twice_what_it_keeps(keep):
    m, r = run(PRINT, "interp", output_keep=keep)
    assert r.reason == "debug-exit"
    log = m.serial_log
    assert len(log) == PRINTED                      # every byte is counted
    held = m.serial_output()
    assert len(held) <= 2 * keep and len(held) >= keep
    assert held == EXPECTED[PRINTED - len(held):]  # the last bytes, in order
    assert log[PRINTED - keep:] == EXPECTED[PRINTED - keep:]
    del log[PRINTED - 10:]                          # output taken back (reverse execution)
    assert len(log) == PRINTED - 10
    assert log[PRINTED - 10 - keep // 2:] == EXPECTED[PRINTED - 10 - keep // 2:PRINTED - 10]



def interp_and_unicorn(name, check):
    """Run the guest file ``name`` on the interpreter and on unicorn (calling
    ``check(machine)`` on unicorn's before it is closed); assert both runs
    are the same and return the interpreter's (reason, status, icount,
    exit counts, output)."""
    with open(os.path.join(GUESTS, name)) as f:
        img = assemble(f.read(), name)
    got = {}
    for accel in ("interp", "unicorn"):
        m = Machine(accel=accel)
        m.load_image(img.data, img.name)
        r = m.run(icount_limit=1_000_000)
        got[accel] = (r.reason, r.status, r.icount, m.stats.as_dict(), m.serial_output())
        if accel == "unicorn":
            check(m)
        m.close()
    assert got["unicorn"] == got["interp"]
    return got["interp"]


def test_unicorn_sweeping_memory_above_4g_maps_no_new_region():
    """Loads from 4096 unassigned physical MiBs above 4 GiB (high_mmio.S):
    the same MMIO exits as the interpreter, and unicorn's region list does
    not grow with the addresses touched: RAM, RAM's end to 4 GiB, above."""
    def check(m):
        assert len(list(m.accel.uc.mem_regions())) == 3
    reason, _, _, stats, _ = interp_and_unicorn("high_mmio.S", check)
    assert reason == "debug-exit" and stats["by_reason"]["MMIO"] == 4096


def test_unicorn_delivering_faults_in_a_loop_writes_back_only_what_changed():
    """A #UD storm (ud_loop.S: 2000 UD2s, each handled by a real-mode
    handler): the same run as the interpreter's, and no fault makes the
    engine take the whole CPU state again (only the registers delivery
    changed are written back)."""
    def check(m):
        assert m.accel.stats()["delivery full puts"] == 0
    reason, _, _, _, out = interp_and_unicorn("ud_loop.S", check)
    assert reason == "debug-exit"
    assert out == (2000).to_bytes(2, "little") + (sum(range(2001)) & 0xFFFF).to_bytes(2, "little")


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_a_large_ram_costs_no_memory_the_guest_does_not_use(accel):
    """-m 1G: RAM's own bookkeeping (the code-page and code-granule maps,
    16 MiB for 1 GiB) is not allocated up front, so making the Machine and
    running a small guest allocates next to nothing (traced with
    tracemalloc, which sees every Python object and numpy buffer)."""
    img = assemble(PRINT, "guest.S")
    tracemalloc.start()
    try:
        m = Machine(accel=accel, memory=1 << 30)
        m.load_image(img.data, img.name)
        r = m.run(icount_limit=100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    m.close()
    assert r.reason == "debug-exit"
    assert peak < 8 << 20, peak
