"""interp and unicorn agree on small real-mode guests, and run_diff finds
a divergence planted in one instruction's semantics at the right step."""

import pytest

pytest.importorskip("unicorn")
pytest.importorskip("keystone")

from emu.diff import run_diff  # noqa: E402
from emu.machine import Machine  # noqa: E402
from emu.isa.x86.semantics import REGISTRY  # noqa: E402

from .guests import ARITH, HELLO, assemble  # noqa: E402

GUESTS = {"hello": (HELLO, b"Hello\n", 3), "arith": (ARITH, b"ABC\n<\n", 7)}


def run_on(accel: str, image: bytes):
    m = Machine(accel=accel)
    try:
        m.load_image(image)
        r = m.run(icount_limit=100_000)
        return r, m.serial_output()
    finally:
        m.close()


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_same_output_status_and_icount_on_interp_and_unicorn(name):
    src, out, status = GUESTS[name]
    image = assemble(src)
    ri, oi = run_on("interp", image)
    ru, ou = run_on("unicorn", image)
    assert oi == ou == out
    assert (ri.reason, ri.status) == (ru.reason, ru.status) == ("debug-exit", status)
    assert ri.icount == ru.icount
    assert ri.stats.as_dict() == ru.stats.as_dict()


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_run_diff_finds_no_divergence(name):
    src, _, status = GUESTS[name]
    r = run_diff(assemble(src))
    assert not r.diverged, r.report_text
    assert r.reason == "ended"
    assert r.end == (("debug-exit", status), ("debug-exit", status))


def test_run_diff_max_steps():
    r = run_diff(assemble(ARITH), max_steps=5)
    assert not r.diverged and r.steps == 5 and r.reason == "max-steps"


def test_run_diff_reports_a_wrong_add_at_its_step(monkeypatch):
    # the 3rd instruction of this guest is the first ADD
    src = """
        mov ax, 2
        mov bx, 3
        add ax, bx
        mov dx, 0x3f8
        add al, 0x30
        out dx, al
        mov al, 0
        out 0xf4, al
        hlt
    """
    good = REGISTRY.table["ADD"]

    def wrong_add(ops, insn):
        good(ops, insn)
        dst = insn.ops[0]
        ops.write(dst, (ops.read(dst) + 1) & ((1 << (8 * insn.size)) - 1))

    # decoded instructions cache their handler: patch before the Machines exist
    monkeypatch.setitem(REGISTRY.table, "ADD", wrong_add)
    r = run_diff(assemble(src))
    assert r.diverged
    assert r.step == 3
    assert r.pc == 0x7C06
    assert r.insn_text.startswith("add ax, bx")
    assert any(d.startswith("rax 0x6 != 0x5") for d in r.differences), r.differences
    assert "divergence at step 3" in r.report_text
    assert "<--" in r.report_text


def test_run_diff_reports_different_io(monkeypatch):
    src = """
        mov dx, 0x3f8
        mov al, 0x41
        add al, 1
        out dx, al
        hlt
    """
    good = REGISTRY.table["OUT"]

    def wrong_out(ops, insn):
        ops.s.regs[0] ^= 1
        good(ops, insn)
        ops.s.regs[0] ^= 1

    monkeypatch.setitem(REGISTRY.table, "OUT", wrong_out)
    r = run_diff(assemble(src))
    assert r.diverged and r.step == 4
    assert any("I/O differs" in d for d in r.differences)


def test_undefined_flags_are_masked_not_reported():
    # MUL leaves SF ZF AF PF undefined; whatever each engine leaves, no divergence
    src = """
        mov ax, 0x1234
        mov bx, 0x10
        mul bx
        and ax, 0xff
        mov al, 0
        out 0xf4, al
        hlt
    """
    r = run_diff(assemble(src))
    assert not r.diverged, r.report_text


def test_max_steps_ends_with_a_ram_comparison(monkeypatch):
    """RAM is compared when the step limit ends the run, not only every
    ``ram_every`` steps: a store's wrong byte at the last step is found."""
    src = """
        mov di, 0x600
        mov al, 0x41
        stosb
        nop
        hlt
    """
    good = REGISTRY.table["STOS"]

    def wrong_stos(ops, insn):
        ops.s.regs[0] ^= 1
        good(ops, insn)
        ops.s.regs[0] ^= 1

    monkeypatch.setitem(REGISTRY.table, "STOS", wrong_stos)
    r = run_diff(assemble(src), max_steps=3)
    assert r.diverged and r.step == 3
    assert "RAM differs" in r.report_text


# -- interp against KVM on the protected- and long-mode guests -----------------------------

import os  # noqa: E402

from emu.diff import HOST_LIMIT  # noqa: E402
from emu.loader import load_file  # noqa: E402

X86_GUESTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86")

# where this host's KVM (kvm_pvm) stops, and the words of its explanation; on a
# VT-x/AMD-V host the whole run must agree instead
KVM_LIMITS = {
    "pm_boot": ("int 0x30", "cannot emulate INT"),
    "ring3_gp": ("iretd", "cannot emulate IRETD"),
    "paging": ("mov cr0, eax", "cannot run 32-bit paged guests"),
    "long_boot": ("iretq", "the guest was at SWAPGS, the first instruction of its SYSCALL entry point"),
}


def _kvm_or_skip():
    if not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm on this machine")


def _guest(name):
    return load_file(os.path.join(X86_GUESTS, name + ".S"))


@pytest.mark.parametrize("guest", sorted(KVM_LIMITS))
def test_kvm_host_limit_is_not_a_divergence(guest):
    """emu diff interp,kvm: an identical prefix (registers, I/O and RAM), then
    the host's limit, explained in KVM's own words -- not a divergence."""
    _kvm_or_skip()
    res = run_diff(_guest(guest).data, accels=("interp", "kvm"))
    assert not res.diverged, res.report_text
    if res.reason == "ended":            # a host whose KVM runs the whole guest
        assert res.end[0] == res.end[1] == ("debug-exit", 1), res.report_text
        return
    insn, words = KVM_LIMITS[guest]
    assert res.reason == "host-limit", res.report_text
    assert res.insn_text.startswith(insn), res.report_text
    assert res.step == res.steps + 1 and res.steps > 100
    assert res.ram_checked_at == res.steps
    assert words in res.host_limit and HOST_LIMIT in res.host_limit
    assert "run it with -accel interp, tcg or unicorn" in res.host_limit
    first = res.report_text.splitlines()[0]
    assert first == (f"no divergence in the {res.steps} steps both engines ran: interp and kvm "
                     f"agree on every register, every I/O access and RAM up to there")
    assert f"at step {res.step}, " in res.report_text
    assert words in res.report_text
    ran_on = "kvm did not stop after this instruction: it ran on to 003b:" in res.report_text
    assert ran_on == (guest == "long_boot"), res.report_text


def test_kvm_host_limit_after_a_wrong_prefix_is_a_divergence(monkeypatch):
    """A host limit ends the comparison only after an identical prefix: a
    wrong byte in RAM two steps before it is reported as the divergence."""
    _kvm_or_skip()
    src = """
        mov di, 0x600
        mov al, 0x15
        stosb
        add al, 0x27
        daa
        out 0xf4, al
        hlt
    """
    good = REGISTRY.table["STOS"]

    def wrong_stos(ops, insn):
        ops.s.regs[0] ^= 1
        good(ops, insn)
        ops.s.regs[0] ^= 1

    # without the bug: KVM's real-mode emulator cannot run DAA (a host limit)
    plain = run_diff(assemble(src), accels=("interp", "kvm"))
    if plain.reason == "ended":
        pytest.skip("this host's KVM runs DAA: no host limit to test")
    assert plain.reason == "host-limit" and plain.insn_text.startswith("daa"), plain.report_text
    monkeypatch.setitem(REGISTRY.table, "STOS", wrong_stos)
    res = run_diff(assemble(src), accels=("interp", "kvm"))
    assert res.diverged and res.step == 3, res.report_text
    assert "RAM differs" in res.report_text


# the default run compares the first TIMER_STEPS steps of timer.S: the mode-2
# ticks that wake the CPU from HLT; the slow run compares all of it
TIMER_STEPS = 8000


def test_timer_interrupts_in_lockstep_with_kvm():
    """timer.S: PIT interrupts through the 8259.  KVM's guest clock counts
    instructions during the comparison, so every interrupt comes at the same
    step as on interp: the frames, handlers, EOIs and UART output of the
    first ticks are compared like everything else."""
    _kvm_or_skip()
    img = _guest("timer")
    m = Machine(accel="interp")                      # the prefix really has interrupts
    m.load_image(img.data, img.name)
    m.run(icount_limit=TIMER_STEPS)
    out = m.serial_output()
    m.close()
    assert b"tick 3\n" in out, out
    res = run_diff(img.data, accels=("interp", "kvm"), max_steps=TIMER_STEPS)
    assert not res.diverged, res.report_text
    assert (res.reason, res.steps) == ("max-steps", TIMER_STEPS), res.report_text


@pytest.mark.slow
def test_timer_whole_run_in_lockstep_with_kvm():
    """All of timer.S (about 100,000 steps): ticks in HLT, while computing,
    and the one-shot."""
    _kvm_or_skip()
    res = run_diff(_guest("timer").data, accels=("interp", "kvm"))
    assert not res.diverged, res.report_text
    assert res.reason == "ended", res.report_text
    assert res.end == (("debug-exit", 1), ("debug-exit", 1))


def test_emu_diff_cli_on_a_host_limit_exits_0_and_says_so(capsys):
    _kvm_or_skip()
    from emu.cli import main
    rc = main(["diff", os.path.join(X86_GUESTS, "ring3_gp.S"), "-accel", "interp,kvm"])
    out = capsys.readouterr().out
    assert out.startswith("no divergence in the ") or out.startswith("no divergence: "), out
    assert rc == 0
