"""kasou's own disassembly text (used by -d in_asm, the debugger and the
KVM explanations), checked against capstone, an independent disassembler,
on the mnemonic for encodings where the two could disagree."""

import capstone
import pytest

from emu.isa.x86.decode import Decoder
from emu.isa.x86.disasm import format_insn
from emu.isa.x86.semantics import REGISTRY

CASES64 = ["0f01f8", "0f01f9", "0f0138", "4890", "90", "4990", "f390", "9c", "48cf", "0f05",
           "0f07", "4898", "4899", "f348a5", "f3ab", "e8 00000000", "c3"]


def ours(code: bytes, dsize: int, long64: bool) -> str:
    d = Decoder("max", dsize, long64, REGISTRY)
    return format_insn(d.decode(lambda k: code[k], 0))


@pytest.mark.parametrize("hexcode", CASES64)
def test_64_bit_mnemonics_match_capstone(hexcode):
    code = bytes.fromhex(hexcode.replace(" ", ""))
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    ref = next(cs.disasm(code, 0))
    mine = ours(code, 4, True)
    want = ref.mnemonic
    assert mine.split()[0] == want.split()[0] or " ".join(mine.split()[:2]) == want, (mine, ref.mnemonic)


def test_opcode_90_in_64_bit_mode():
    assert ours(bytes.fromhex("90"), 4, True) == "nop"
    assert ours(bytes.fromhex("f390"), 4, True) == "pause"
    assert ours(bytes.fromhex("4990"), 4, True) == "xchg r8, rax"


def test_swapgs_is_not_shown_as_invlpg():
    assert ours(bytes.fromhex("0f01f8"), 4, True) == "swapgs"
    assert ours(bytes.fromhex("0f01f9"), 4, True) == "rdtscp"
    assert ours(bytes.fromhex("0f0138"), 4, True).startswith("invlpg ")
