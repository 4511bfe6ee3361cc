"""emu.isa.arm.disasm against capstone (CS_ARCH_ARM, CS_MODE_ARM) on random
words: same mnemonic and operands after this normalisation --

* capstone's register aliases sb, sl, fp, ip are read as r9-r12;
* words are compared only where both sides decode them: capstone rejects
  words with SBZ/SBO bits set that the CPU ignores, and kasou's decoder
  leaves encodings newer than ARMv7-A (and not implemented ones) UNDEFINED;
* coprocessors 9, 10 and 11 (half precision, VFP, Advanced SIMD, which
  capstone prints as such) are not compared: kasou has no floating point,
  they are coprocessors that trap;
* BFI/BFC with msb < lsb (UNPREDICTABLE) and the Virtualization
  extension's banked MRS/MSR (which kasou decodes but traps as UNDEFINED)
  are not compared."""

import random
import re

import capstone
import pytest

from emu.isa import get_target
from emu.isa.arm.disasm import format_insn
from emu.isa.arm.models import get_model

ALIASES = {"sb": "r9", "sl": "r10", "fp": "r11", "ip": "r12"}


def capstone_text(md, word, addr):
    got = list(md.disasm(word.to_bytes(4, "little"), addr))
    if not got:
        return None
    text = (got[0].mnemonic + " " + got[0].op_str).strip()
    return re.sub(r"\b(sb|sl|fp|ip)\b", lambda m: ALIASES[m.group(1)], text)


def comparable(i):
    if i.name == "UNDEFINED" or i.name.endswith("_banked"):
        return False
    if i.coproc in (9, 10, 11):
        return False
    return not (i.name in ("BFI", "BFC") and i.msb < i.lsb)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_words_match_capstone(seed):
    dec = get_target("arm").decoder(get_model("cortex-a15"), (False, 0x13))
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM)
    rnd = random.Random(seed)
    compared = 0
    diffs = []
    for _ in range(10000):
        word = rnd.getrandbits(32)
        i = dec.decode_word(word, 0x8000)
        want = capstone_text(md, word, 0x8000)
        if want is None or not comparable(i):
            continue
        compared += 1
        got = format_insn(i)
        if got != want:
            diffs.append(f"{word:08x} {i.name}: {got!r} != capstone {want!r}")
    assert compared > 7000
    assert diffs == []


WORDS = {
    0xE92D4010: "push {r4, lr}",
    0xE8BD8010: "pop {r4, pc}",
    0xE1A00181: "lsl r0, r1, #3",
    0x00910002: "addseq r0, r1, r2",
    0xE7E10452: "ubfx r0, r2, #8, #2",
    0xEB000010: "bl #0x8048",
    0xE129F000: "msr cpsr_fc, r0",
    0xE2800C03: "add r0, r0, #0x300",
    0xE2800E30: "add r0, r0, #48, #28",
}


@pytest.mark.parametrize("word", sorted(WORDS))
def test_known_words(word):
    """Hand-checked against the UAL rules of ARM DDI 0406C A8.8."""
    i = get_target("arm").decoder(get_model("cortex-a15"), (False, 0x13)).decode_word(word, 0x8000)
    assert format_insn(i) == WORDS[word]


#: Thumb encodings with semantics of their own (not run as an A32 instruction)
THUMB_OWN = ("T_B", "T_B_cond", "T_CBZ", "T_LDR_lit", "T_ADR", "T_IT", "T32_BL", "T32_BLX")


def test_thumb_branches_literals_and_it_match_capstone():
    """The Thumb encodings kasou runs by semantics of their own, against
    capstone in Thumb mode (CS_MODE_THUMB) on random halfword pairs:
    branch targets, CBZ/CBNZ, literal loads, ADR, IT and the 32-bit BL/BLX."""
    from emu.isa.arm.thumb import ThumbUnsupported, fetch_thumb
    model = get_model("cortex-a15")
    dec = get_target("arm").decoder(model, (True, 0x13)).thumb()
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB)
    rnd = random.Random(3)
    compared = dict.fromkeys(THUMB_OWN, 0)
    diffs = []
    for _ in range(20000):
        data = rnd.getrandbits(32).to_bytes(4, "little")
        try:
            i = fetch_thumb(lambda a, n: int.from_bytes(data[a - 0x8000:a - 0x8000 + n],
                                                        "little"), 0x8000, model.arch, dec)
        except ThumbUnsupported:          # 32-bit Thumb-2 other than BL/BLX: not decoded
            continue
        if i.name not in compared or i.name == "T_IT" and i.imm >> 4 == 0xF:
            continue                      # IT with firstcond 1111 is UNPREDICTABLE (A8.8.54)
        got = list(md.disasm(data[:i.size], 0x8000))
        if not got:
            continue
        compared[i.name] += 1
        want = (got[0].mnemonic + " " + got[0].op_str).strip()
        if format_insn(i) != want:
            diffs.append(f"{data[:i.size].hex()} {i.name}: {format_insn(i)!r} != {want!r}")
    assert not diffs, "\n".join(diffs[:20])
    assert all(compared.values()), compared
