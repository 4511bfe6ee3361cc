"""A32 on the unicorn engine (emu/isa/arm/unicorn_adapter.py), on the virt
board: the adapter's contract, the banked registers both ways, what unicorn
leaves to kasou (exceptions, semihosting in both instruction sets), an
instruction unicorn abandons inside an MMIO access, and WFI -- each judged
against the interpreter or against the architecture's rule."""

import subprocess
import sys

import pytest

pytest.importorskip("unicorn")
pytest.importorskip("keystone")

from keystone import KS_ARCH_ARM, KS_MODE_ARM, KS_MODE_THUMB, Ks  # noqa: E402

from emu.accel.base import AccelUnavailable  # noqa: E402
from emu.isa.arm.lockstep import snapshot  # noqa: E402
from emu.isa.arm.state import ABT, FIQ, IRQ, SVC, UND, USR  # noqa: E402
from emu.isa.unicorn_adapter import UnicornAdapter  # noqa: E402
from emu.machine import Machine  # noqa: E402

LOAD = 0x40010000
EXIT = "mov r0, #0x18; movw r1, #0x0026; movt r1, #2; svc #0x123456"


def machine(accel, code: bytes, serial_input=None, semihosting=True):
    m = Machine(board="virt", accel=accel, semihosting=semihosting, memory=1 << 20,
                serial_input=serial_input)
    m.load_image(code)
    return m


def asm(text: str, thumb: bool = False) -> bytes:
    return bytes(Ks(KS_ARCH_ARM, KS_MODE_THUMB if thumb else KS_MODE_ARM).asm(text, LOAD)[0])


def run_both(code: bytes, **kw):
    """(machine, result) on interp and on unicorn."""
    out = []
    for accel in ("interp", "unicorn"):
        m = machine(accel, code, **kw)
        out.append((m, m.run(icount_limit=100_000)))
    return out


def test_the_arm_adapter_implements_the_whole_contract():
    m = machine("unicorn", asm(EXIT))
    adapter = m.accel.adapter
    names = [n for n, fn in vars(UnicornAdapter).items() if callable(fn) and not n.startswith("_")]
    missing = [n for n in names if getattr(type(adapter), n) is getattr(UnicornAdapter, n)]
    assert missing == []
    m.close()


def test_every_bank_goes_into_unicorn_and_comes_back():
    """Distinct values in every banked register and SPSR, and SCTLR/VBAR:
    put into unicorn and read back into a reset state, all come back --
    from a mode other than the one unicorn was in."""
    m = machine("unicorn", asm(EXIT))
    s = m.cpu
    for k, mode in enumerate((USR, FIQ, IRQ, ABT, UND, SVC)):
        s.set_cpsr(0x1C0 | mode)
        for r in range(8, 15):
            s.r[r] = (k + 1) << 24 | r
        if mode != USR:
            s.set_spsr(0x60000010 | k << 16)
    s.set_cpsr(0xA00001D2)             # IRQ mode, N and C set
    s.r[:8] = [0x1000 + r for r in range(8)]
    s.vbar = 0x40010000
    want = snapshot(s)
    m.accel.state_changed()
    m.accel.put_state()
    s.load(m.target.new_state())
    m.accel.get_state()
    assert snapshot(s) == want
    m.close()


def test_arm7tdmi_is_refused_in_one_line(tmp_path):
    with pytest.raises(AccelUnavailable) as e:
        Machine(board="virt", accel="unicorn", cpu="arm7tdmi")
    assert "-cpu arm7tdmi is not modelled by -accel unicorn" in str(e.value)
    assert "\n" not in str(e.value)
    guest = tmp_path / "exit.bin"
    guest.write_bytes(asm(EXIT))
    r = subprocess.run([sys.executable, "-m", "emu", "run", "-M", "virt", "-cpu", "arm7tdmi",
                        "-accel", "unicorn", str(guest)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.startswith("emu run: -cpu arm7tdmi is not modelled by -accel unicorn")
    assert r.stderr.count("\n") == 1


# vectors at the image's start (VBAR), then the code
VECTORS = """
        b start
        b und
        b svc_h
        b .
        b .
        b .
        b irq
        b .
"""


def test_exceptions_enter_their_vectors_as_on_the_interpreter():
    """An undefined instruction, an SVC that is no semihosting call and a
    BKPT that is none: each enters its vector with the mode, LR and SPSR
    the interpreter gives (unicorn raises them and never takes them)."""
    code = asm(VECTORS + f"""
    start:
        mov r0, #{LOAD & 0xFFFF}
        movt r0, #{LOAD >> 16}
        mcr p15, 0, r0, c12, c0, 0
        mov r4, #0
        udf #7
        svc #5
        {EXIT}
    und:
        add r4, r4, #1
        mov r5, lr
        mrs r6, spsr
        movs pc, lr
    svc_h:
        add r4, r4, #0x10
        mov r7, lr
        movs pc, lr
    irq:
        b .
    """)
    (mi, ri), (mu, ru) = run_both(code)
    assert (ri.reason, ri.status) == (ru.reason, ru.status) == ("debug-exit", 0)
    assert mi.cpu.r[4] == 0x11
    assert snapshot(mu.cpu) == snapshot(mi.cpu)
    assert mu.cpu.r[5] == mi.cpu.r[5] != 0


def test_semihosting_in_thumb_state_and_by_bkpt():
    """SVC 0xAB in Thumb state and BKPT 0xAB: the console, on both engines,
    and the instruction count (the call that exits does not retire)."""
    thumb = asm("""
        movs r0, #3
        adr r1, ch
        svc #0xab
        movs r0, #3
        adr r1, ch2
        bkpt #0xab
        movs r0, #0x18
        ldr r1, status
        bkpt #0xab
        .align 2
    status: .word 0x20026
    ch: .word 0x54
    ch2: .word 0x42
    """, thumb=True)
    # enter Thumb state from the A32 entry: bx to the code after this stub
    stub = asm("add r0, pc, #8\n orr r0, r0, #1\n bx r0\n nop")
    outs = []
    for accel in ("interp", "unicorn"):
        m = machine(accel, stub + thumb)
        r = m.run(icount_limit=10_000)
        outs.append((m.serial_output(), r.reason, r.status, r.icount))
        m.close()
    assert outs[0] == outs[1]
    # the stub's add, orr, bx and the 8 Thumb instructions before the exit call
    assert outs[0] == (b"TB", "debug-exit", 0, 3 + 8)


def gic_program(body: str) -> bytes:
    """VECTORS, the GIC and VBAR set up, ``body``, exit; the IRQ handler
    counts in r9, masks the PL011's interrupts and ends the interrupt."""
    return asm(VECTORS + f"""
    start:
        mov r0, #{LOAD & 0xFFFF}
        movt r0, #{LOAD >> 16}
        mcr p15, 0, r0, c12, c0, 0
        movw r0, #0
        movt r0, #0x0800
        mov r1, #1
        str r1, [r0]              @ GICD_CTLR
        mov r1, #2
        str r1, [r0, #0x104]      @ GICD_ISENABLER1: ID 33
        movt r0, #0x0801
        mov r1, #1
        str r1, [r0]              @ GICC_CTLR
        mov r1, #0xF0
        str r1, [r0, #4]          @ GICC_PMR
        movw r2, #0x38
        movt r2, #0x0900          @ PL011 IMSC
        mov r1, #0x10             @ RXIM
        mov r9, #0
        {body}
        {EXIT}
    und: b .
    svc_h: b .
    irq:
        add r9, r9, #1
        movw r10, #0x38
        movt r10, #0x0900
        mov r11, #0
        str r11, [r10]            @ IMSC = 0: the line falls
        movw r10, #0x0C
        movt r10, #0x0801
        ldr r11, [r10]            @ GICC_IAR
        str r11, [r10, #4]        @ GICC_EOIR
        subs pc, lr, #4
    """)


def imsc_writes(exits):
    return [ex.data for ex in exits if ex.reason == "MMIO" and ex.addr == 0x09000038]


def test_an_instruction_stopped_inside_its_access_is_completed_once():
    """The IRQ rises during a post-indexed STR to the PL011 (input is
    waiting; the store unmasks it) with CPSR.I clear: unicorn abandons the
    instruction after the access.  It must complete once -- one store,
    the base written back once -- and the IRQ come after it, as on the
    interpreter."""
    code = gic_program("""
        cpsie i
        str r1, [r2], #4
        mov r8, r2
    """)
    results = []
    for accel in ("interp", "unicorn"):
        m = machine(accel, code, serial_input=b"x")
        exits = []
        m.add_exit_observer(exits.append)
        r = m.run(icount_limit=100_000)
        results.append(((r.reason, r.status), m.cpu.r[8], m.cpu.r[9], imsc_writes(exits)))
        m.close()
    assert results[0] == results[1] == (("debug-exit", 0), 0x0900003C, 1, [0x10, 0])


def test_wfi_wakes_on_a_masked_pending_interrupt():
    """WFI with CPSR.I set and an interrupt pending does not halt (ARM DDI
    0406C B1.8.13); the interrupt is taken once unmasked."""
    code = gic_program("""
        str r1, [r2]              @ the line rises; IRQs are masked
        wfi
        mov r8, #1
        cpsie i
        nop
    """)
    results = []
    for accel in ("interp", "unicorn"):
        m = machine(accel, code, serial_input=b"x")
        r = m.run(icount_limit=100_000)
        results.append(((r.reason, r.status), m.cpu.r[8], m.cpu.r[9]))
        m.close()
    assert results[0] == results[1] == (("debug-exit", 0), 1, 1)


def test_code_outside_ram_runs_from_the_bus_without_exits_as_on_the_interpreter():
    """Without -semihosting, SVC enters the vector at 0x8, where the virt
    board has nothing: both engines fetch all ones from the bus (no MMIO
    exit: a fetch is no access of the program's), an undefined
    instruction, whose vector is there too -- step for step alike."""
    from emu.diff import run_diff
    r = run_diff(asm("svc #0x123456"), accels=("interp", "unicorn"), board="virt",
                 memory=1 << 20, max_steps=12, ram_every=1)
    assert not r.diverged and r.reason == "max-steps", r.report_text


@pytest.mark.parametrize("thumb", [False, True])
def test_what_ends_at_a_pc_is_read_in_the_current_instruction_set(thumb):
    """halted_before / trap_before (the free-run questions): WFI, SVC and
    BKPT that end at the PC are found by their encodings (ARM DDI 0406C
    A8.8.425, A8.8.228, A8.8.24; T16 likewise); a word that is none of them
    is an exception of the instruction at the PC."""
    from emu.isa.arm.unicorn_adapter import EXCP_BKPT, EXCP_SWI, EXCP_UDEF
    from unicorn import arm_const as U
    code = asm("wfi; svc #5; bkpt #1; add r0, r0, r1", thumb)
    m = machine("unicorn", code)
    m.accel.put_state()
    uc = m.accel.uc
    uc.reg_write(U.UC_ARM_REG_CPSR, uc.reg_read(U.UC_ARM_REG_CPSR) | 0x20 if thumb else
                 uc.reg_read(U.UC_ARM_REG_CPSR) & ~0x20)
    ad, n = m.accel.adapter, 2 if thumb else 4
    ends = [LOAD + n * k for k in range(1, 5)]       # after wfi, svc, bkpt, add
    assert [ad.halted_before(pc) for pc in ends] == [True, False, False, False]
    assert [ad.trap_before(pc, EXCP_SWI) for pc in ends] == [None, LOAD + n, None, None]
    assert [ad.trap_before(pc, EXCP_BKPT) for pc in ends] == [None, None, LOAD + 2 * n, None]
    assert ad.trap_before(ends[1], EXCP_UDEF) is None
    m.close()
