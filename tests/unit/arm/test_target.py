"""The ARM Target through the generic contract (emu.isa.get_target), over
kasou's own RAM object."""

import pytest

from emu.isa import get_target
from emu.isa.arm.disasm import format_insn
from emu.isa.arm.step import step
from emu.isa.target import Target
from emu.memory import Ram


def test_registered_and_described():
    t = get_target("arm")
    assert isinstance(t, Target) and t.name == "arm"
    assert t.elf_machines == ("EM_ARM",)
    assert t.reg_names[:2] == ("r0", "r1") and t.reg_names[13:] == ("sp", "lr", "pc")
    assert set(t.models) == {"arm7tdmi", "cortex-a15"}
    assert t.model(None).name == "cortex-a15"
    assert t.exception_name(2) == "supervisor call" and t.exception_name(4) == "data abort"


def test_unknown_model_is_one_line_error():
    with pytest.raises(ValueError, match="unknown ARM CPU model 'cortex-m0'; expected one of"):
        get_target("arm").model("cortex-m0")


def test_reset_state_and_flags():
    t = get_target("arm")
    s = t.new_state()
    assert s.cpsr & 0x1F == 0x13 and s.cpsr & 0xC0 == 0xC0     # SVC, IRQ and FIQ masked
    assert t.tb_flags(s) == (False, 0x13)
    s.cpsr |= 0x20
    assert t.tb_flags(s) == (True, 0x13)


def test_concrete_ops_over_ram_and_disassemble():
    t = get_target("arm")
    model = t.model("cortex-a15")
    ram = Ram(0x10000, base=0x40000000)
    code = bytes.fromhex("0100a0e3" "041090e5")          # mov r0, #1 ; ldr r1, [r0, #4]
    ram.load(0x40000000, code)
    ram.write(0x40000100, 4, 0xCAFEF00D)
    s = t.new_state()
    s.pc = 0x40000000
    ops = t.concrete_ops(s, ram, model)
    dec = t.decoder(model, t.tb_flags(s))
    assert t.disassemble(code, s, model) == "mov r0, #1"
    step(s, ops, dec)
    s.r[0] = 0x400000FC
    step(s, ops, dec)
    assert s.r[1] == 0xCAFEF00D and t.pc(s) == 0x40000008
    assert ops.load(0x90000000, 4) == 0xFFFFFFFF                # nothing there: all ones


@pytest.mark.parametrize("model", ["arm7tdmi", "cortex-a15"])
def test_disassemble_any_word_and_every_halfword(model):
    """Every T16 halfword and random A32 words (LDRD r15 included) give
    text, never an exception; the target marks Thumb text."""
    import random
    t = get_target("arm")
    m = t.model(model)
    s = t.new_state()
    rnd = random.Random(4)
    dec = t.decoder(m, t.tb_flags(s))
    words = [rnd.getrandbits(32) for _ in range(5000)] + [0xE1C0F0D0]
    assert all(format_insn(dec.decode_word(w, 0x8000)) for w in words)
    assert all(format_insn(dec.thumb().decode_half(hw, 0x8000)) for hw in range(0x10000))
    s.cpsr |= 0x20
    assert t.disassemble(bytes.fromhex("0520"), s, m) == "(t16) movs r0, #5"
