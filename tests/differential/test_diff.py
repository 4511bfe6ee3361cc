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
