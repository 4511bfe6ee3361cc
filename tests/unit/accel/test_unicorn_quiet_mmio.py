"""MMIO served quietly from unicorn's hooks (the Machine's quiet servers, the
PL011's quiet_io): counted as the interpreter counts its MMIO exits, the
same output, and an instruction abandoned inside an access still completed
once when an earlier access of it was served quietly."""

import pytest

pytest.importorskip("unicorn")
pytest.importorskip("keystone")

from tests.unit.accel.test_unicorn_arm import asm, gic_program  # noqa: E402
from tests.unit.arm.test_interp_quiet_mmio import POLLED as POLLED_SOURCE  # noqa: E402

from emu.machine import Machine  # noqa: E402

#: print "ok\n" polling FR.TXFF before each byte, then exit
POLLED = asm(POLLED_SOURCE)


def machine(accel, code, count="free", serial_input=None):
    m = Machine(board="virt", accel=accel, semihosting=True, memory=1 << 20,
                serial_input=serial_input,
                accel_options={"count": count} if accel == "unicorn" else None)
    m.load_image(code)
    return m


@pytest.mark.parametrize("count", ["free", "exact"])
def test_a_polled_pl011_is_served_quietly_and_counted_as_on_the_interpreter(count):
    ref = machine("interp", POLLED)
    r_ref = ref.run(icount_limit=10_000)
    m = machine("unicorn", POLLED, count)
    r = m.run(icount_limit=None if count == "free" else 10_000)
    assert (r.reason, m.serial_output()) == (r_ref.reason, ref.serial_output()) == ("debug-exit", b"ok\n")
    assert m.stats.by_key == ref.stats.by_key
    assert m.stats.by_reason == ref.stats.by_reason == {"MMIO": 6, "SEMIHOSTING": 1}
    # every PL011 access (3 FR reads, 3 DR writes) went the quiet way
    assert m.accel.stats()["quiet MMIO accesses"] == 6
    ref.close()
    m.close()


def test_with_an_exit_observer_every_access_is_a_real_exit():
    m = machine("unicorn", POLLED)
    seen = []
    m.add_exit_observer(seen.append)
    m.run()
    assert m.accel.stats()["quiet MMIO accesses"] == 0
    assert [ex.addr & 0xFFF for ex in seen if ex.reason == "MMIO"] == [0x18, 0, 0x18, 0, 0x18, 0]
    m.close()


#: stores of r0 (IFLS: quiet while IMSC is 0) then r1 (IMSC: unmasks RX),
#: at r2 = IFLS: (instruction, r2 after it)
PAIR_STORES = [("stm r2, {r0, r1}", 0x09000034), ("strd r0, r1, [r2]", 0x09000034),
               ("strd r0, r1, [r2], #8", 0x0900003C), ("stmia r2!, {r0, r1}", 0x0900003C)]


@pytest.mark.parametrize("count", ["exact", "free"])
@pytest.mark.parametrize("store, base", PAIR_STORES)
def test_a_store_pair_abandoned_at_its_second_access_completes_once(count, store, base):
    """STM/STRD writes IFLS (quiet: IMSC is 0) then IMSC, unmasking RX with
    input waiting and CPSR.I clear: the IRQ rises inside the second access
    and unicorn abandons the instruction.  Completed on kasou's semantics
    with both values, it is one store of each register and one writeback,
    as on the interpreter -- also in a free run, where unicorn's PC in the
    hook is not the store's."""
    code = gic_program(f"""
        cpsie i
        sub r2, r2, #4            @ IFLS
        mov r0, #0x09
        {store}
        mov r8, r2
    """)
    results = []
    for accel in ("interp", "unicorn", "tcg"):
        m = machine(accel, code, count, serial_input=b"x")
        r = m.run(icount_limit=None if count == "free" and accel == "unicorn" else 100_000)
        keys = {k: v for k, v in m.stats.by_key.items() if k.startswith("MMIO write 0x90000")}
        results.append(((r.reason, r.status), m.cpu.r[8], m.cpu.r[9], keys,
                        m.devices["serial0"].ifls))
        m.close()
    assert results[0] == results[1] == results[2]
    assert results[0][:3] == (("debug-exit", 0), base, 1)
    assert results[0][3] == {"MMIO write 0x9000034": 1, "MMIO write 0x9000038": 2}


@pytest.mark.parametrize("load", ["ldm r2, {r4, r5}", "ldrd r4, r5, [r2]"])
def test_a_load_pair_abandoned_at_its_first_access_reads_the_fifo_once(load):
    """The line rises with CPSR.I set (IMSC unmasks RX, input waiting);
    CPSRIE then enables it, which a free run notices at its next device
    access: the first read of an LDM/LDRD of DR and RSR, which pops the RX
    FIFO.  Unicorn abandons the load there; completed with the byte already
    read, the load pops the FIFO once, and DR reads the first byte, as on
    the interpreter (there the IRQ comes before the load; its handler
    leaves DR alone)."""
    code = gic_program(f"""
        str r1, [r2]              @ IMSC: the line rises, CPSR.I masks it
        cpsie i
        movw r2, #0
        movt r2, #0x0900          @ DR
        {load}
        ldr r6, [r2]              @ the second byte
    """)
    results = []
    for accel, count in (("interp", None), ("unicorn", "free"), ("unicorn", "exact"), ("tcg", None)):
        m = machine(accel, code, count or "exact", serial_input=b"xy")
        r = m.run(icount_limit=None if count == "free" else 100_000)
        results.append(((r.reason, r.status), m.cpu.r[4] & 0xFF, m.cpu.r[6] & 0xFF, m.cpu.r[9]))
        m.close()
    assert results[0] == results[1] == results[2] == results[3] == (("debug-exit", 0), ord("x"),
                                                                    ord("y"), 1)


def test_a_free_run_keeps_only_the_last_accesses():
    """A free run counts nothing (and unicorn's PC in a hook is that of
    some earlier block), so its accesses name no instruction: a polling
    loop's must not pile up (memory, and a stop's search among them), only
    the last ACCESSES_KEPT of them are kept, the newest last."""
    from emu.accel.unicorn import ACCESSES_KEPT
    text = bytes(range(0x41, 0x41 + 2 * ACCESSES_KEPT))
    code = POLLED.replace(b"ok\n\0", text + b"\0")
    m = machine("unicorn", code)
    m.run()
    assert m.serial_output() == text
    _, accesses = m.accel._accesses
    assert len(accesses) == ACCESSES_KEPT
    assert accesses[-1] == (0x09000000, True, text[-1])
    m.close()
