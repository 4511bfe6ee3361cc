"""``emu coverage``'s translator section (emu/coverage.py ``translation``,
the Targets' ``translation_probes``): every decoded encoding's verdict --
compiled into the block, compiled and leaving it, or run by the
interpreter -- is what the real translator does with it."""

import functools
import subprocess
import sys

import pytest

from emu import coverage
from emu.accel.tcg import Translator
from emu.accel.tcg.translate import MAX_INSNS
from emu.isa import get_target
from emu.isa.x86.semantics import REGISTRY
from emu.machine import Machine

X86 = get_target("x86")
NOP, HLT = 0x90, 0xF4


def _verdicts(model="max", mode="rm16"):
    modes, rows = coverage.translation(X86, X86.model(model))
    return {(name, specs, form): v for _, name, specs, per in rows for form, v, _ in per.get(mode, ())}


@functools.lru_cache(maxsize=None)
def _stock_verdicts(mode):
    """``_verdicts`` of the semantics as they are (no test patched them), once per mode."""
    return _verdicts(mode=mode)


def _agree(m, target, model, mode, at, code_of, tail) -> int:
    """Each probe of ``mode``, put in ``m``'s RAM at ``at`` (where its CPU is
    about to run) before ``tail`` and translated by the Machine's own
    translator: a ``block`` verdict is a block that goes on past the probe,
    ``exit`` one that ends after it, ``helper``/``interp`` a block that is
    one helper call.  Returns how many probes were checked."""
    t = m.accel
    assert isinstance(t, Translator)
    _, probes = target.translation_probes(target.model(model), MAX_INSNS)
    checked = 0
    for pmode, _, name, specs, form, insn, key in probes:
        if pmode != mode:
            continue
        verdict, _ = coverage.classify(t.frontend, key, insn)
        m.ram.load(at, code_of(insn) + tail)
        t.core.flush()
        block = t._build(at, t._key(at, 8))[0]
        helper = any(o.name == "call_helper" for o in block.ops)
        got = "block" if len(block.insns) > 1 else ("helper/interp" if helper else "exit")
        want = "helper/interp" if verdict in ("helper", "interp") else verdict
        assert got == want, f"{name} {specs} {form}: coverage says {verdict}, the engine made {got}"
        checked += 1
    return checked


def test_probes_agree_with_blocks_the_engine_translates():
    """The real-mode probes, at the reset CS:IP of a pc Machine, before NOPs."""
    m = Machine(accel="tcg")
    try:
        assert _agree(m, X86, "max", "rm16", 0x7C00, lambda i: i.raw, bytes((NOP, NOP, HLT))) > 300
    finally:
        m.close()


def test_an_inlined_instruction_made_a_helper_shows(monkeypatch):
    """ADD is compiled in; registered as a helper it is listed as one."""
    assert _verdicts()[("ADD", "Ev,Gv", "reg")] == "block"
    monkeypatch.setattr(REGISTRY.table["ADD"], "is_helper", True)
    assert _verdicts()[("ADD", "Ev,Gv", "reg")] == "helper"


def test_semantics_that_branch_on_a_run_time_value_are_interp(monkeypatch):
    """Semantics that test a register's value in Python cannot be inlined:
    ``interp``, with the reason in the report."""
    def branchy(ops, i):
        if ops.read(i.ops[0]):
            ops.write(i.ops[0], 0)
    monkeypatch.setitem(REGISTRY.table, "NOT", branchy)
    monkeypatch.setattr(branchy, "is_helper", False, raising=False)
    assert _verdicts()[("NOT", "Ev", "reg")] == "interp"
    text = coverage.report("max")
    assert "not inlinable, by reason:" in text
    assert "NOT Ev (rm16, reg)" in text.split("not inlinable, by reason:")[1]


@pytest.mark.parametrize("name,specs,form,want", [
    ("JCC", "Jb", "", "exit"), ("LOOP", "Jb", "", "exit"), ("RET", "-", "", "exit"),
    # a REP string instruction runs in its block (without paging, in a block of more than one)
    ("HLT", "-", "", "helper"), ("MOVS", "Yb,Xb", "rep", "block"),
    ("MOVS", "Yb,Xb", "", "block"), ("XCHG", "Ev,Gv", "mem", "block"),
    # decimal arithmetic and ENTER: compiled in (their semantics select on run-time values)
    ("DAA", "-", "", "block"), ("DAS", "-", "", "block"), ("AAA", "-", "", "block"),
    ("AAS", "-", "", "block"), ("AAM", "Ib", "", "block"), ("AAD", "Ib", "", "block"),
    ("ENTER", "Iw,Ib", "", "block"), ("PUSHA", "-", "", "block"), ("POPA", "-", "", "block")])
def test_known_verdicts(name, specs, form, want):
    assert _stock_verdicts("rm16")[(name, specs, form)] == want


def test_report_counts_every_encoding_once_per_mode():
    text = coverage.report("max")
    _, rows = coverage.translation(X86, X86.model("max"))
    for label in ("rm16", "pm32"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"  {label} ("))
        n = int(line.split("): ")[1].split()[0])
        counts = [int(w) for w in line.split("encodings: ")[1].split(" (an")[0].replace(",", "").split()[::2]]
        assert n == sum(counts) == sum(1 for *_, per in rows if label in per)
    assert "pm32" not in coverage.report("8086")


def test_cli_prints_the_translator_section():
    r = subprocess.run([sys.executable, "-m", "emu", "coverage", "-cpu", "286"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "translator (-accel tcg)" in r.stdout
    assert " ENTER " in r.stdout


def test_arm_probes_agree_with_blocks_the_engine_translates():
    """The A32 probes on a virt Machine, at the image's load address,
    before NOPs (MOV r0, r0)."""
    arm = get_target("arm")
    m = Machine(board="virt", accel="tcg")
    try:
        at = m.ram.base + 0x10000
        m.cpu.pc = at
        m.accel.core.state_changed()
        nop = (0xE1A00000).to_bytes(4, "little")
        assert _agree(m, arm, "cortex-a15", "a32", at, lambda i: i.insn.word.to_bytes(4, "little"),
                      nop + nop) > 100
    finally:
        m.close()


def test_arm_report_on_the_virt_board():
    text = coverage.report(None, "virt")
    assert "a32 (ARM state):" in text and "t16 (Thumb state):" in text
    line = next(ln for ln in text.splitlines() if " ADD_reg " in ln)
    assert line.split()[-2:] == ["block", "-"]


@pytest.mark.parametrize("name,specs,form", [
    ("MOV_TO_SEG", "Sw,Ew", "reg"), ("MOV_TO_SEG", "Sw,Ew", "mem"), ("LES", "Gz,Mp", "mem"),
    ("LDS", "Gz,Mp", "mem")])
def test_segment_loads_are_compiled_in(name, specs, form):
    """A load of a data segment register is compiled into the block in
    real mode and, with the descriptor's checks in a call that declines
    where they fault, in protected mode; a load of SS (its interrupt
    shadow) is left to the interpreter."""
    for mode in ("rm16", "pm16", "pm32"):
        assert _stock_verdicts(mode)[(name, specs, form)] == "block", mode
        assert _stock_verdicts(mode)[("POP_SEG", "SS", "")] == "interp", mode


@pytest.mark.parametrize("mode", ["rm16", "pm16", "pm32"])
def test_popf_is_compiled_in_and_ends_the_block(mode):
    """POPF (IF and IOPL as CPL and IOPL allow, taken at run time in
    protected mode) is compiled in and ends the block."""
    assert _stock_verdicts(mode)[("POPF", "-", "")] == "exit"
    assert _stock_verdicts(mode)[("PUSHF", "-", "")] == "block"
