"""``emu coverage``'s translator section (emu/coverage.py ``translation``,
the Targets' ``translation_probes``): every decoded encoding's verdict --
compiled into the block, compiled and leaving it, or run by the
interpreter -- is what the real translator does with it."""

import subprocess
import sys

import pytest

from emu import coverage
from emu.accel.tcg import Translator
from emu.isa import get_target
from emu.isa.x86.semantics import REGISTRY
from emu.machine import Machine

X86 = get_target("x86")
NOP, HLT = 0x90, 0xF4


def _verdicts(model="max", mode="rm16"):
    modes, rows = coverage.translation(X86, X86.model(model))
    return {(name, specs, form): v for _, name, specs, per in rows for form, v, _ in per.get(mode, ())}


def test_probes_agree_with_blocks_the_engine_translates():
    """Each 16-bit probe, put in RAM before a NOP and translated by a real
    Machine's translator at the reset CS:IP: a ``block`` verdict is a block
    that goes on to the NOP, ``exit`` one that ends after the instruction,
    ``helper``/``interp`` a block that is one helper call."""
    _, probes = X86.translation_probes(X86.model("max"))
    m = Machine(accel="tcg")
    try:
        t = m.accel
        assert isinstance(t, Translator)
        fe = t.frontend
        checked = 0
        for mode, _, name, specs, form, insn, key in probes:
            if mode != "rm16":
                continue
            verdict, _ = coverage.classify(fe, key, insn)
            m.ram.load(0x7C00, insn.raw + bytes((NOP, NOP, HLT)))
            ip = 0x7C00
            t.core.flush()
            built = t._build(ip, t._key(ip, 8))
            block = built[0]
            helper = any(o.name == "call_helper" for o in block.ops)
            n = len(block.insns)
            got = "block" if n > 1 else ("helper/interp" if helper else "exit")
            want = "helper/interp" if verdict in ("helper", "interp") else verdict
            assert got == want, f"{name} {specs} {form}: coverage says {verdict}, the engine made {got}"
            checked += 1
        assert checked > 300
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
    ("HLT", "-", "", "helper"), ("MOVS", "Yb,Xb", "rep", "helper"),
    ("MOVS", "Yb,Xb", "", "block"), ("XCHG", "Ev,Gv", "mem", "block"),
    # decimal arithmetic and ENTER: compiled in (their semantics select on run-time values)
    ("DAA", "-", "", "block"), ("DAS", "-", "", "block"), ("AAA", "-", "", "block"),
    ("AAS", "-", "", "block"), ("AAM", "Ib", "", "block"), ("AAD", "Ib", "", "block"),
    ("ENTER", "Iw,Ib", "", "block")])
def test_known_verdicts(name, specs, form, want):
    assert _verdicts()[(name, specs, form)] == want


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
    """The A32 probes on a virt Machine's translator, as for x86: a probe
    word before a NOP (MOV r0, r0) at the image's load address."""
    arm = get_target("arm")
    _, probes = arm.translation_probes(arm.model("cortex-a15"))
    m = Machine(board="virt", accel="tcg")
    try:
        t = m.accel
        at = m.ram.base + 0x10000
        m.cpu.pc = at
        t.core.state_changed()
        nop = (0xE1A00000).to_bytes(4, "little")
        checked = 0
        for mode, _, name, _, _, insn, key in probes:
            if mode != "a32":
                continue
            verdict, _ = coverage.classify(t.frontend, key, insn)
            m.ram.load(at, insn.insn.word.to_bytes(4, "little") + nop + nop)
            t.core.flush()
            block = t._build(at, t._key(at, 8))[0]
            helper = any(o.name == "call_helper" for o in block.ops)
            n = len(block.insns)
            got = "block" if n > 1 else ("helper/interp" if helper else "exit")
            want = "helper/interp" if verdict in ("helper", "interp") else verdict
            assert got == want, f"{name}: coverage says {verdict}, the engine made {got}"
            checked += 1
        assert checked > 100
    finally:
        m.close()


def test_arm_report_on_the_virt_board():
    text = coverage.report(None, "virt")
    assert "a32 (ARM state):" in text and "t16 (Thumb state):" in text
    line = next(ln for ln in text.splitlines() if " ADD_reg " in ln)
    assert line.split()[-2:] == ["block", "-"]
