"""MMIO served quietly from unicorn's hooks (Machine.serve_mmio_quiet, the
PL011's quiet_io): counted as the interpreter counts its MMIO exits, the
same output, and an instruction abandoned inside an access still completed
once when an earlier access of it was served quietly."""

import pytest

pytest.importorskip("unicorn")
pytest.importorskip("keystone")

from tests.unit.accel.test_unicorn_arm import EXIT, asm, gic_program  # noqa: E402

from emu.machine import Machine  # noqa: E402

#: print "ok\n" polling FR.TXFF before each byte, then exit
POLLED = asm(f"""
    movw r1, #0
    movt r1, #0x0900
    adr r4, text
next:
    ldrb r0, [r4], #1
    cmp r0, #0
    beq done
wait:
    ldr r2, [r1, #0x18]
    tst r2, #0x20
    bne wait
    str r0, [r1]
    b next
done:
    {EXIT}
text:
    .asciz "ok\\n"
""")


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


def test_an_stm_abandoned_at_its_second_access_completes_once():
    """STM writes IFLS (quiet: IMSC is 0) then IMSC, unmasking RX with input
    waiting and CPSR.I clear: the IRQ rises inside the second access and
    unicorn abandons the STM.  Completed on kasou's semantics with both
    values, it is one store of each register, as on the interpreter.
    (Counting: a free run takes the IRQ at the end of the block, see
    emu.accel.unicorn.)"""
    count = "exact"
    code = gic_program("""
        cpsie i
        sub r2, r2, #4            @ IFLS
        mov r0, #0x09
        stm r2, {r0, r1}
        mov r8, r2
    """)
    results = []
    for accel in ("interp", "unicorn"):
        m = machine(accel, code, count, serial_input=b"x")
        r = m.run(icount_limit=100_000)
        keys = {k: v for k, v in m.stats.by_key.items() if k.startswith("MMIO write 0x90000")}
        results.append(((r.reason, r.status), m.cpu.r[8], m.cpu.r[9], keys,
                        m.devices["serial0"].ifls))
        m.close()
    assert results[0] == results[1]
    assert results[0][:3] == (("debug-exit", 0), 0x09000034, 1)
    assert results[0][3] == {"MMIO write 0x9000034": 1, "MMIO write 0x9000038": 2}


def test_a_free_run_keeps_only_the_last_instructions_accesses():
    """A free run counts nothing (and unicorn's PC in a hook is that of
    its block), so the polling loop's accesses are the same (address,
    icount) every time round: they must not pile up as one instruction's
    (a stop inside the next would replay stale values).  At most the last
    round's FR read and DR write are kept, not all six accesses."""
    m = machine("unicorn", POLLED)
    m.run()
    _, accesses = m.accel._accesses
    assert len(accesses) <= 2
    m.close()
