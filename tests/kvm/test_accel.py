"""KvmAccelerator against a real /dev/kvm, with the interpreter as reference.

Guests are 16-bit keystone-assembled boot sectors run on the pc board
(loaded at 0x7C00).  Tests that need /dev/kvm are skipped ONLY when the
device node is absent; ``test_kvm_present_means_accelerator_usable`` fails
if the node exists but the accelerator cannot be created, so a broken host
never passes silently as "skipped".
"""

import os

import pytest

from emu import loader
from emu.accel.base import AccelUnavailable
from emu.exits import FailEntryExit, InternalErrorExit
from emu.isa.x86.state import (CR0_AM, CR0_ET, CR0_MP, CR0_NE, CR0_PE,
                               CR0_PG, CR0_WP, CR4_PAE, CS, DS, EFER_LMA,
                               EFER_LME, EFER_SCE, ES, FS, GS, SS, Segment,
                               X86State)
from emu.machine import Machine

KVM_DEV = "/dev/kvm"

requires_kvm = pytest.mark.skipif(
    not os.path.exists(KVM_DEV),
    reason="/dev/kvm is absent on this host: the KVM accelerator tests "
           "need it")

HELLO = """
    mov si, msg
    mov dx, 0x3f8
next:
    mov al, [si]
    test al, al
    jz done
    out dx, al
    inc si
    jmp next
done:
    mov al, 0x21
    out 0xf4, al
    hlt
msg: .byte 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a, 0
"""
DONE = 0x7C10          # address of "done:" in HELLO
OUT_INSN = 0x7C0C      # address of "out dx, al" in HELLO

# prints "he", executes the instruction under test, prints "l", exits
UNEMULATED = """
    mov dx, 0x3f8
    mov al, 0x68
    out dx, al
    mov al, 0x65
    out dx, al
    {setup}
    {insn}
    mov al, 0x6c
    out dx, al
    mov al, 0
    out 0xf4, al
bnd: .word 1, 10
"""
UNEMULATED_CASES = {
    "DAA": ("mov al, 0x15\n    add al, 0x27", "daa"),
    "BOUND": ("mov bx, 5", "bound bx, [bnd]"),
}


def assemble(source, address=0x7C00):
    return loader.assemble(source, "<test>", address).data


def machine(accel, source=None):
    m = Machine(accel=accel)
    if source is not None:
        m.load_image(assemble(source))
    return m


@pytest.fixture
def machines():
    made = []

    def make(accel, source=None):
        m = machine(accel, source)
        made.append(m)
        return m
    yield make
    for m in made:
        m.close()


# -- availability -------------------------------------------------------------

def test_kvm_present_means_accelerator_usable():
    """Not skipped: if /dev/kvm exists, the accelerator must come up."""
    if not os.path.exists(KVM_DEV):
        return
    m = Machine(accel="kvm")
    try:
        assert m.accel.name == "kvm"
        assert m.accel.exact_icount is False
    finally:
        m.close()


def test_missing_device_is_a_one_line_advice(monkeypatch):
    monkeypatch.setenv("KASOU_KVM_DEV", "/nonexistent")
    with pytest.raises(AccelUnavailable) as info:
        Machine(accel="kvm")
    text = str(info.value)
    assert "KVM is not available here; use -accel tcg" in text
    assert "/nonexistent" in text
    assert "\n" not in text


# -- same guest, same result --------------------------------------------------

@requires_kvm
def test_hello_same_output_status_and_exits_as_interp(machines):
    results = {}
    for accel in ("interp", "kvm"):
        m = machines(accel, HELLO)
        r = m.run(time_limit=10)
        results[accel] = (r.reason, r.status, m.serial_output(),
                          r.stats.as_dict())
    assert results["kvm"] == results["interp"]
    reason, status, output, stats = results["kvm"]
    assert (reason, status, output) == ("debug-exit", 0x43, b"hello\n")
    assert stats["by_reason"] == {"IO": 7}


@requires_kvm
def test_two_kvm_machines_in_one_process(machines):
    a, b = machines("kvm", HELLO), machines("kvm", HELLO)
    assert a.run().status == b.run().status == 0x43
    assert a.serial_output() == b.serial_output() == b"hello\n"


@requires_kvm
@pytest.mark.parametrize("timing", ["off", "on"])
def test_stats_record_kvm_exits_and_time(timing):
    m = Machine(accel="kvm", accel_options={"timing": timing})
    try:
        m.load_image(assemble(HELLO))
        m.run()
        st = m.accel.stats()
    finally:
        m.close()
    assert st["kvm_exits"]["IO"] == 7
    assert st["seconds_in_kvm_run"] > 0
    if timing == "on":          # the split of the rest is measured only when asked
        assert st["seconds_in_accel_python"] > 0 and st["seconds_outside_accel"] > 0
    else:
        assert st["seconds_in_accel_python"] is None and st["seconds_outside_accel"] is None


# -- single-step and breakpoints ----------------------------------------------

def _step_trace(m, n):
    m.accel.set_single_step(True)
    trace = []
    for _ in range(n):
        r = m.run(time_limit=10)
        trace.append((r.reason, m.cpu.rip, r.icount, m.serial_output()))
        if r.reason != "debug":
            break
    return trace


@requires_kvm
def test_single_step_rip_sequence_matches_interp(machines):
    ref = _step_trace(machines("interp", HELLO), 100)
    got = _step_trace(machines("kvm", HELLO), 100)
    assert got == ref
    # the trace crosses 7 exiting OUTs (the merged-step quirk) and ends
    # at isa-debug-exit; every step retired exactly one instruction
    assert len(ref) == 43 and ref[-1][0] == "debug-exit"
    assert all(icount == 1 for _, _, icount, _ in got)


def _breakpoint_trace(m, breakpoints):
    m.accel.breakpoints.update(breakpoints)
    trace = []
    for _ in range(50):
        r = m.run(time_limit=10)
        trace.append((r.reason, m.cpu.rip, m.serial_output()))
        if r.reason != "debug":
            break
    return trace


@requires_kvm
def test_hw_breakpoint_stops_at_its_address(machines):
    m = machines("kvm", HELLO)
    m.accel.breakpoints.add(DONE)
    r = m.run(time_limit=10)
    assert r.reason == "debug"
    assert r.exit.kind == "breakpoint" and r.exit.pc == DONE
    assert m.cpu.rip == DONE and m.serial_output() == b"hello\n"
    r = m.run(time_limit=10)             # resumes past the breakpoint
    assert (r.reason, r.status) == ("debug-exit", 0x43)


@pytest.mark.parametrize("breakpoints", [
    {OUT_INSN},                                    # on an exiting OUT
    {OUT_INSN, DONE},
    {0x7C03, OUT_INSN, 0x7C0D, DONE, 0x7C12, 0x9999},   # > 4: emulated
], ids=["out", "two", "six"])
@requires_kvm
def test_breakpoint_stops_match_interp(machines, breakpoints):
    ref = _breakpoint_trace(machines("interp", HELLO), breakpoints)
    got = _breakpoint_trace(machines("kvm", HELLO), breakpoints)
    assert got == ref
    assert ref[-1][0] == "debug-exit"


# -- host limits and faults ---------------------------------------------------

@pytest.mark.parametrize("mnemonic", sorted(UNEMULATED_CASES))
@requires_kvm
def test_unemulated_instruction_is_explained(machines, mnemonic):
    setup, insn = UNEMULATED_CASES[mnemonic]
    source = UNEMULATED.format(setup=setup, insn=insn)
    ref = machines("interp", source)
    ref.run(time_limit=3)
    m = machines("kvm", source)
    r = m.run(time_limit=3)
    if r.reason == "internal-error":
        # this host's KVM cannot emulate it: same output up to that point
        assert m.serial_output() == b"he"
        assert ref.serial_output()[:2] == b"he"
        assert isinstance(r.exit, InternalErrorExit)
        assert f"this host's KVM cannot emulate {mnemonic} at 0000:7c" \
            in r.message
        assert "this is a limit of this host's KVM, not of the guest" \
            in r.message
        assert "\n" not in r.message
    else:
        # a host whose KVM emulates it: the whole run must agree
        assert m.serial_output() == ref.serial_output()


@requires_kvm
def test_time_limit_stops_a_guest_spinning_forever(machines):
    m = machines("kvm", "spin: jmp spin")
    r = m.run(time_limit=0.3)
    assert (r.reason, r.status) == ("limit", 124)
    assert 0.3 <= r.seconds < 1.5
    assert m.stats.by_reason.get("BUDGET", 0) >= 1
    assert m.accel.stats()["watchdog_kicks"] >= 1
    assert m.cpu.rip == 0x7C00


def _flat32(m, code, idt_limit=0x7FF):
    s = m.cpu
    s.cr0 = CR0_PE | CR0_ET
    s.segs[CS] = Segment(selector=8, base=0, limit=0xFFFFFFFF, type=11,
                         s=1, present=1, db=1, g=1)
    for i in (ES, SS, DS, FS, GS):
        s.segs[i] = Segment(selector=0x10, base=0, limit=0xFFFFFFFF, type=3,
                            s=1, present=1, db=1, g=1)
    s.gdt_base, s.gdt_limit = 0x500, 23
    s.idt_base, s.idt_limit = 0, idt_limit
    s.rip = 0x1000
    s.regs[4] = 0x8000
    m.ram.load(0x1000, code)
    m.accel.state_changed()


@requires_kvm
def test_triple_fault_is_explained(machines):
    m = machines("kvm")
    _flat32(m, b"\x0f\x0b", idt_limit=0)           # ud2, empty IDT
    r = m.run(time_limit=5)
    assert r.reason == "shutdown"
    assert "triple fault: the guest faulted while delivering a fault" \
        in r.message
    assert "32-bit protected mode, CS:IP 0008:00001000" in r.message
    assert "0f 0b" in r.message and "ud2" in r.message


@requires_kvm
def test_rejected_state_is_one_line(machines):
    m = machines("kvm")
    m.cpu.segs[CS].l = 1                 # 64-bit code outside long mode
    m.accel.state_changed()
    r = m.run(time_limit=5)
    assert r.reason == "fail-entry"
    assert isinstance(r.exit, FailEntryExit)
    assert "\n" not in r.message
    assert "CS.L" in r.message or "changed the state" in r.message


@requires_kvm
def test_unknown_exit_is_an_internal_error(machines):
    from kvm import exits
    m = machines("kvm")
    ex = m.accel._translate(exits.Unsupported(99))
    assert isinstance(ex, InternalErrorExit)
    assert ex.why == "unsupported exit 99"


@requires_kvm
def test_string_io_is_split_into_one_exit_per_element(machines):
    m = machines("kvm", """
        mov si, msg
        mov dx, 0x3f8
        mov cx, 6
        cld
        rep outsb
        mov dx, 0x3fd
        mov di, 0x600
        mov cx, 2
        rep insb
        mov al, [0x601]
        out 0xf4, al
    msg: .byte 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a
    """)
    r = m.run(time_limit=5)
    assert m.serial_output() == b"hello\n"
    assert m.stats.by_key["IO out 0x3f8"] == 6
    assert m.stats.by_key["IO in 0x3fd"] == 2
    # the UART's LSR (0x60: transmitter empty) reached guest RAM via INSB
    assert r.status == (0x60 << 1) | 1
    assert m.accel.stats()["kvm_exits"]["IO"] < 9


# -- state conversion ---------------------------------------------------------

def _real(s):
    s.regs[:] = [0x1111 * (i + 1) for i in range(16)]
    s.rflags = 0x246


def _prot32(s):
    _real(s)
    s.cr0 = CR0_PE | CR0_ET
    s.segs[CS] = Segment(selector=8, base=0, limit=0xFFFFFFFF, type=11,
                         s=1, present=1, db=1, g=1)
    for i in (ES, SS, DS, FS, GS):
        s.segs[i] = Segment(selector=0x10, base=0, limit=0xFFFFFFFF, type=3,
                            s=1, present=1, db=1, g=1)
    s.gdt_base, s.gdt_limit = 0x500, 23
    s.idt_base, s.idt_limit = 0x800, 0x7FF
    s.rip = 0x12345678


def _long64(s):
    _prot32(s)
    s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG
    s.cr4 = CR4_PAE
    s.cr3 = 0x2000
    s.cr2 = 0x1234
    s.efer = EFER_LME | EFER_LMA | EFER_SCE
    s.segs[CS] = Segment(selector=0x18, base=0, limit=0xFFFFFFFF, type=11,
                         s=1, present=1, db=0, l=1, g=1)
    s.tr = Segment(selector=0x28, base=0x1000, limit=0x67, type=11, s=0,
                   present=1)
    s.rip = 0xFFFF800012345678
    s.regs[15] = 0xDEADBEEFCAFEBABE


@pytest.mark.parametrize("setup", [_real, _prot32, _long64],
                         ids=["real", "prot32", "long64"])
@requires_kvm
def test_state_round_trip_is_exact(machines, setup):
    m = machines("kvm")
    setup(m.cpu)
    before = m.cpu.copy()
    assert m.accel.put_state() is None
    m.cpu.load(X86State())             # forget it on the Python side
    m.accel.sync_state()
    assert before.diff(m.cpu) == []
    assert m.cpu.snapshot() == before.snapshot()
    assert m.cpu.cr8 == before.cr8
    assert m.cpu.mode == before.mode
    if setup is _long64:
        assert m.cpu.efer & EFER_LMA and m.cpu.cr0 & CR0_PG


# -- bench helper -------------------------------------------------------------

@requires_kvm
def test_measure_exit_cost_is_a_plausible_number():
    from kvm.accel import measure_exit_cost
    cost = measure_exit_cost(n=200, repeats=3)
    assert 0.1 < cost < 10_000


# -- reads completed from the Machine's answer --------------------------------

@requires_kvm
def test_in_reply_reaches_the_guest(machines):
    """Regression: the IN value was only copied on forced completions."""
    source = """
        mov dx, 0x3fd
        in al, dx
        mov bl, al
        in al, dx
        add al, bl
        out 0xf4, al
    """
    ref = machines("interp", source).run(time_limit=5)
    got = machines("kvm", source).run(time_limit=5)
    assert (got.reason, got.status) == (ref.reason, ref.status)
    assert got.stats.as_dict() == ref.stats.as_dict()
    assert got.status != 1


@requires_kvm
def test_mmio_read_and_write_same_as_interp():
    """RAM is 64 KiB; 0x8000:0000 (= 0x80000) is MMIO with no device."""
    source = """
        mov ax, 0x8000
        mov es, ax
        mov byte ptr es:[0x10], 0x5a
        mov al, es:[0x10]
        out 0xf4, al
    """
    results = []
    for accel in ("interp", "kvm"):
        m = Machine(accel=accel, memory=0x10000)
        try:
            m.load_image(assemble(source))
            r = m.run(time_limit=5)
            results.append((r.reason, r.status, r.stats.as_dict()))
        finally:
            m.close()
    assert results[0] == results[1]
    assert results[1][2]["by_reason"] == {"MMIO": 2, "IO": 1}


@requires_kvm
def test_single_step_over_hlt_matches_interp(machines):
    """kvm_pvm reports DEBUG after HLT (VMX: HLT); both read as HLT, step."""
    traces = []
    for accel in ("interp", "kvm"):
        m = machines(accel, "nop\ncli\nhlt\nnop\n")
        m.accel.set_single_step(True)
        trace = []
        for _ in range(5):
            r = m.run(time_limit=5)
            trace.append((r.reason, m.cpu.rip, r.icount, r.stats.summary()))
        traces.append(trace)
    assert traces[0] == traces[1]
    assert traces[1][2][:2] == ("halt", 0x7C03)


@requires_kvm
def test_uart_interrupts_are_injected(machines):
    """IRQ 4 through the userspace 8259 (KVM_INTERRUPT / IRQ window).

    Where interrupts are taken may differ from the interpreter (KVM injects
    at KVM_RUN entry), so HLT counts may differ; output and I/O may not.
    """
    source = """
        cli
        mov al, 0x11
        out 0x20, al
        mov al, 0x08
        out 0x21, al
        mov al, 4
        out 0x21, al
        mov al, 1
        out 0x21, al
        mov al, 0xef
        out 0x21, al
        mov word ptr [0x30], handler
        mov word ptr [0x32], 0
        mov dx, 0x3fc
        mov al, 8
        out dx, al
        mov dx, 0x3f9
        mov al, 2
        out dx, al
        sti
    wait:
        hlt
        jmp wait
    handler:
        mov dx, 0x3fa
        in al, dx
        mov al, 0x49
        mov dx, 0x3f8
        out dx, al
        mov al, 0x20
        out 0x20, al
        inc byte ptr [count]
        cmp byte ptr [count], 3
        jb done
        mov al, 2
        out 0xf4, al
    done:
        iret
    count: .byte 0
    """
    results = []
    for accel in ("interp", "kvm"):
        m = machines(accel, source)
        r = m.run(time_limit=5)
        results.append((r.reason, r.status, m.serial_output(),
                        r.stats.by_key))
    assert results[0] == results[1]
    assert results[1][2] == b"III"


# -- SYSCALL from native ring 3 (kvm_pvm) -------------------------------------

STAR = (0x1B << 48) | (0x08 << 32)      # SYSCALL: CS 0x08, SS 0x10
MSR_STAR, MSR_LSTAR = 0xC0000081, 0xC0000082


def _user64(m, code, entry_code, entry=0x2000):
    """A CPL-3 64-bit state (GDT, 4-level identity tables with one 2 MiB user
    page) running ``code`` at 0x1000; ``entry_code`` at the SYSCALL entry."""
    s = m.cpu
    gdt = [0, 0x00AF9B000000FFFF, 0x00CF93000000FFFF, 0x00CFF3000000FFFF,
           0x00AFFB000000FFFF]
    for i, d in enumerate(gdt):
        m.ram.write(0x500 + 8 * i, 8, d)
    s.gdt_base, s.gdt_limit = 0x500, 8 * len(gdt) - 1
    s.idt_base, s.idt_limit = 0, 0
    m.ram.write(0x10000, 8, 0x11000 | 0x27)
    m.ram.write(0x11000, 8, 0x12000 | 0x27)
    m.ram.write(0x12000, 8, 0xE7)                       # 0-2 MiB, user, RW
    s.cr3, s.cr4 = 0x10000, CR4_PAE
    s.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG
    s.efer = EFER_LME | EFER_LMA | EFER_SCE
    s.segs[CS] = Segment(selector=0x23, base=0, limit=0xFFFFFFFF, type=11,
                         s=1, dpl=3, present=1, l=1, g=1)
    for i in (ES, SS, DS, FS, GS):
        s.segs[i] = Segment(selector=0x1B, base=0, limit=0xFFFFFFFF, type=3,
                            s=1, dpl=3, present=1, db=1, g=1)
    s.tr = Segment(selector=0, base=0x3000, limit=0x67, type=11, s=0, present=1)
    s.rip, s.regs[4], s.rflags = 0x1000, 0x8000, 0x202
    m.ram.load(0x1000, code)
    m.ram.load(entry, entry_code)
    m.accel.state_changed()
    assert m.accel.put_state() is None
    m.accel.vcpu.set_msrs({MSR_STAR: STAR, MSR_LSTAR: entry})


@requires_kvm
def test_swapgs_after_syscall_from_ring3_is_a_host_limit(machines):
    """SYSCALL; the entry point starts with SWAPGS.  A VT-x/AMD-V host runs
    it in ring 0 and reaches the HLT; kvm_pvm leaves the vCPU in ring 3 at
    the entry point, the SWAPGS #GP ends in a triple fault, and the message
    must say that this is the host's limit, naming the instruction."""
    m = machines("kvm")
    _user64(m, b"\x0f\x05", b"\x0f\x01\xf8\xf4")       # syscall | swapgs; hlt
    r = m.run(time_limit=5)
    if r.reason == "halt":
        assert m.cpu.segs[CS].selector == 0x08
        return
    assert r.reason == "shutdown", r.message
    assert "triple fault" in r.message and "swapgs" in r.message
    assert "the guest was at SWAPGS, the first instruction of its SYSCALL entry point " \
           "(IA32_LSTAR 0x2000), with CPL 3" in r.message
    assert "SYSCALL loads CS 0008 and SS 0010 from IA32_STAR" in r.message
    assert "limit of this host's KVM, not of the guest" in r.message
    assert r.message.endswith("run it with -accel interp, tcg or unicorn")
    assert "\n" not in r.message


class _Vcpu:
    """Just enough of a Vcpu for the SHUTDOWN explanations."""

    def __init__(self, rip, lstar):
        from kvm import uapi
        self.regs = uapi.kvm_regs(rip=rip)
        self.lstar = lstar

    def get_regs(self):
        return self.regs

    def get_msrs(self, indices):
        return {MSR_STAR: STAR, MSR_LSTAR: self.lstar}


def _hint(mode, cs, rip, lstar, text):
    import types
    from kvm import uapi
    from kvm.accel import KvmAccelerator
    sregs = uapi.kvm_sregs()
    sregs.cs.selector, sregs.ss.selector = cs, cs - 8
    fake = types.SimpleNamespace(vcpu=_Vcpu(rip, lstar))
    return KvmAccelerator._syscall_hint(fake, text, mode, sregs)


def test_syscall_hint_names_only_ring3_at_the_entry_or_swapgs():
    assert _hint("long64", 0x08, 0x2000, 0x2000, "swapgs") == ""        # ring 0: a real fault
    assert _hint("prot32", 0x1B, 0x2000, 0x2000, "swapgs") == ""        # not 64-bit code
    assert _hint("long64", 0x23, 0x1000, 0x2000, "ud2") == ""           # elsewhere, not SWAPGS
    at_entry = _hint("long64", 0x23, 0x2000, 0x2000, "mov rax, cr3")
    assert "the guest was at MOV, the first instruction of its SYSCALL entry point " \
           "(IA32_LSTAR 0x2000), with CPL 3 (CS 0023, SS 001b" in at_entry
    elsewhere = _hint("long64", 0x23, 0x1000, 0x2000, "swapgs")
    assert "the guest was at SWAPGS, in 64-bit code, with CPL 3" in elsewhere
    assert "limit of this host's KVM" in elsewhere
