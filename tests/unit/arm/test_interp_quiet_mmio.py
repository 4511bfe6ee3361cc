"""MMIO the interpreter hands a device quietly (the A32 core's
``mmio_quiet``, :meth:`emu.machine.Machine.serve_mmio_quiet`): polling a
PL011 and transmitting do not end the interpreter's run, each access
counted as the MMIO exit it stands for; an access the run loop must see (an
exit observer wants it), a write behind a write of the same instruction
already queued, and the reads of an instruction that reads more than once
(restarted after an exit, it would read again) are still exits."""

from keystone import KS_ARCH_ARM, KS_MODE_ARM, Ks

from emu.exits import MmioExit
from emu.machine import Machine
from tests.unit.arm.arm_harness import pl011_base

LOAD = 0x40010000
EXIT = "mov r0, #0x18; movw r1, #0x0026; movt r1, #2; svc #0x123456"

#: write "ok\n" to the PL011's DR (no polling: FR reads are real exits)
WRITES = pl011_base("r1") + f"""
    mov r0, #'o'
    str r0, [r1]
    mov r0, #'k'
    str r0, [r1]
    mov r0, #10
    str r0, [r1]
    {EXIT}
"""


def _machine(text):
    m = Machine(board="virt", accel="interp", semihosting=True, memory=1 << 20)
    m.load_image(bytes(Ks(KS_ARCH_ARM, KS_MODE_ARM).asm(text, LOAD)[0]))
    return m


def test_pl011_writes_do_not_end_the_interpreters_run():
    m = _machine(WRITES)
    try:
        ex = m.accel.run(None)
        assert ex.reason == "SEMIHOSTING"          # the first exit is the program's end
        assert m.serial_output() == b"ok\n"
        assert m.stats.by_key == {"MMIO write 0x9000000": 3}
    finally:
        m.close()


#: print "ok\n" polling FR.TXFF before each byte, then exit (also the
#: unicorn engine's quiet-MMIO test program)
POLLED = pl011_base("r1") + f"""
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
"""


def test_a_polled_pl011_does_not_end_the_interpreters_run():
    m = _machine(POLLED)
    try:
        ex = m.accel.run(None)
        assert ex.reason == "SEMIHOSTING"
        assert m.serial_output() == b"ok\n"
        assert m.stats.by_key == {"MMIO read 0x9000018": 3, "MMIO write 0x9000000": 3}
    finally:
        m.close()


def test_the_reads_of_a_load_multiple_are_exits():
    m = _machine(f"""
        movw r1, #0x18
        movt r1, #0x0900
        ldm r1, {{r2, r3}}
        {EXIT}
    """)
    try:
        ex = m.accel.run(None)
        # the first read of LDM already ends the run: an exit, not served quietly
        assert (ex.reason, ex.addr, ex.is_write) == ("MMIO", 0x09000018, False)
    finally:
        m.close()


def test_an_exit_observer_gets_every_write_as_a_real_exit():
    m = _machine(WRITES)
    seen = []
    try:
        m.add_exit_observer(seen.append)
        r = m.run(icount_limit=100)
        assert (r.reason, m.serial_output()) == ("debug-exit", b"ok\n")
        assert [e.reason for e in seen[:3]] == ["MMIO"] * 3
        assert m.stats.by_key["MMIO write 0x9000000"] == 3
    finally:
        m.close()


def test_a_write_behind_a_queued_one_is_queued_too():
    """Writes of one instruction (STM) reach the devices in order: once one
    is queued as an exit, the next is queued behind it, not served first."""
    m = _machine(WRITES)
    try:
        ops = m.accel.core.ops
        ops.store(0x09000000, 4, ord("a"))              # served at once
        assert (m.serial_output(), ops.pending_exits) == (b"a", [])
        ops.pending_exits.append(MmioExit(0x09000038, 4, True, 0x10))   # a queued write
        ops.store(0x09000000, 4, ord("b"))
        assert m.serial_output() == b"a"
        assert [(e.addr, e.data) for e in ops.pending_exits] == [(0x09000038, 0x10),
                                                                  (0x09000000, ord("b"))]
    finally:
        m.close()
