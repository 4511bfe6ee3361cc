"""ADD, ADC, SUB and SBB flags worked out by hand from the SDM (Vol. 1 §3.4.3.1
"Status Flags"; Vol. 2A "ADD", "ADC", Vol. 2B "SUB", "SBB"), not from the code:

* CF: carry out of (ADD/ADC) or borrow into (SUB/SBB) the operand's top bit,
  i.e. the unsigned result does not fit;
* OF: the signed result does not fit (two operands of one sign give the
  other sign for ADD; for SUB, the operands' signs differ and the result's
  sign is the subtrahend's);
* AF: carry out of / borrow into bit 3 (the low nibbles);
* SF: the result's top bit; ZF: the result is 0;
* PF: the *low byte* of the result has an even number of 1 bits.

Each case runs ``OP AL/AX/EAX, imm`` (04/14/2C/1C ib, 05/15/2D/1D iw, 66 +
id) in real mode from the given CF, with every other status flag 0.
"""

import pytest

from cpu_harness import reg, run

CF, PF, AF, ZF, SF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800
STATUS = CF | PF | AF | ZF | SF | OF
OPC = {"ADD": 0x04, "ADC": 0x14, "SUB": 0x2C, "SBB": 0x1C}

CASES = [
    # (op, size, a, b, CF in, result, flags out)  -- the derivation follows each
    ("ADD", 1, 0x7F, 0x01, 0, 0x80, OF | SF | AF),
    # 127 + 1 = 128: no unsigned carry; + + gives -: OF; F+1 carries out of bit 3;
    # 0x80 has one 1 bit: PF = 0
    ("ADD", 1, 0xFF, 0x01, 0, 0x00, CF | PF | AF | ZF),
    # 255 + 1 = 256: CF; -1 + 1 = 0: no OF; F+1: AF; 0: ZF, PF
    ("ADD", 1, 0x80, 0x80, 0, 0x00, OF | CF | ZF | PF),
    # 128 + 128 = 256: CF; -128 + -128 = -256: OF; 0 + 0 nibbles: no AF
    ("ADD", 1, 0x08, 0x08, 0, 0x10, AF),
    # 8 + 8 = 16 carries out of bit 3 only; 0x10: one bit, PF = 0
    ("ADC", 1, 0xFF, 0x00, 1, 0x00, CF | PF | AF | ZF),
    # 255 + 0 + 1 = 256: CF; F + 0 + 1 = 0x10: AF; -1 + 0 + 1 = 0: no OF
    ("ADC", 1, 0x7F, 0x00, 1, 0x80, OF | SF | AF),
    # 127 + 0 + 1 = 128: OF (a positive sum turned negative), no CF
    ("ADC", 1, 0xFF, 0xFF, 1, 0xFF, CF | AF | SF | PF),
    # 255 + 255 + 1 = 511 = 0x1FF: CF; F + F + 1 = 0x1F: AF; -1 + -1 + 1 = -1: no
    # OF; 0xFF: eight bits, PF = 1
    ("ADC", 1, 0x00, 0x00, 1, 0x01, 0),
    # 0 + 0 + 1 = 1: nothing; 0x01 has one bit: PF = 0
    ("SUB", 1, 0x80, 0x01, 0, 0x7F, OF | AF),
    # 128 - 1: no borrow; -128 - 1 = -129: OF; 0 - 1 borrows into bit 3: AF;
    # 0x7F: seven bits, PF = 0
    ("SUB", 1, 0x00, 0x01, 0, 0xFF, CF | AF | SF | PF),
    # 0 - 1: borrow, CF; 0 - 1 = -1 fits: no OF
    ("SUB", 1, 0x10, 0x01, 0, 0x0F, AF | PF),
    # nibble 0 - 1 borrows: AF; 0x0F: four bits, PF = 1
    ("SUB", 1, 0x7F, 0xFF, 0, 0x80, CF | OF | SF),
    # 127 - 255: borrow, CF; 127 - (-1) = 128: OF; nibbles F - F = 0: no borrow,
    # no AF; 0x80: one bit, PF = 0
    ("SBB", 1, 0x00, 0x00, 1, 0xFF, CF | AF | SF | PF),
    # 0 - 0 - 1 = -1: borrow, CF; nibble 0 - 0 - 1 borrows: AF; no OF
    ("SBB", 1, 0x80, 0x00, 1, 0x7F, OF | AF),
    # -128 - 0 - 1 = -129: OF; no unsigned borrow (128 >= 1)
    ("SBB", 1, 0xFF, 0xFF, 1, 0xFF, CF | AF | SF | PF),
    # 255 - 255 - 1 = -1: borrow, CF; F - F - 1 borrows: AF; -1 - -1 - 1 = -1: no OF
    ("SBB", 1, 0x01, 0x00, 1, 0x00, ZF | PF),
    # 1 - 0 - 1 = 0: ZF, PF; 1 - 0 - 1 in the nibble: no borrow
    ("ADD", 2, 0x7FFF, 0x0001, 0, 0x8000, OF | SF | AF | PF),
    # 32767 + 1 = 32768: OF, SF; F+1: AF; PF looks at the low byte 0x00 only: PF = 1
    ("ADD", 2, 0xFFFF, 0x0001, 0, 0x0000, CF | ZF | AF | PF),
    # 65535 + 1 = 65536: CF; 0: ZF
    ("ADC", 2, 0xFFFF, 0xFFFF, 1, 0xFFFF, CF | AF | SF | PF),
    # 65535 + 65535 + 1 = 0x1FFFF: CF; F+F+1: AF; -1 + -1 + 1 = -1: no OF
    ("SUB", 2, 0x8000, 0x0001, 0, 0x7FFF, OF | AF | PF),
    # -32768 - 1: OF; no borrow; low byte 0xFF: PF = 1
    ("SBB", 2, 0x0000, 0x0000, 1, 0xFFFF, CF | AF | SF | PF),
    # 0 - 0 - 1: borrow, CF, AF; -1 fits: no OF
    ("ADD", 4, 0x7FFFFFFF, 0x00000001, 0, 0x80000000, OF | SF | AF | PF),
    # 2^31 - 1 + 1 = 2^31: OF, SF; low byte 0x00: PF
    ("ADD", 4, 0xFFFFFFFF, 0x00000001, 0, 0x00000000, CF | ZF | AF | PF),
    # 2^32 - 1 + 1 = 2^32: CF, ZF
    ("ADC", 4, 0xFFFFFFFF, 0x00000000, 1, 0x00000000, CF | ZF | AF | PF),
    # 2^32 - 1 + 0 + 1 = 2^32: CF, ZF; F + 0 + 1: AF; -1 + 0 + 1 = 0: no OF
    ("SUB", 4, 0x80000000, 0x00000001, 0, 0x7FFFFFFF, OF | AF | PF),
    # -2^31 - 1: OF; nibble 0 - 1: AF; low byte 0xFF: PF
    ("SBB", 4, 0x80000000, 0x00000000, 1, 0x7FFFFFFF, OF | AF | PF),
    # -2^31 - 0 - 1: OF, the same
    ("SBB", 4, 0x00000000, 0xFFFFFFFF, 1, 0x00000000, CF | ZF | AF | PF),
    # 0 - (2^32 - 1) - 1 = -2^32: borrow, CF; 0 mod 2^32: ZF; nibble 0 - F - 1:
    # AF; 0 - (-1) - 1 = 0: no OF
]


def _encode(op, size, b):
    if size == 1:
        return bytes([OPC[op], b])
    code = bytes([OPC[op] + 1]) + b.to_bytes(size, "little")
    return (b"\x66" + code) if size == 4 else code


@pytest.mark.parametrize("op, size, a, b, cf, result, flags", CASES,
                         ids=[f"{c[0]}{8 * c[1]}-{c[2]:x}-{c[3]:x}-cf{c[4]}" for c in CASES])
def test_flags_by_hand(op, size, a, b, cf, result, flags):
    s = run(_encode(op, size, b), flags=0x2 | cf, ax=a)
    assert reg(s, "ax", size) == result
    assert s.rflags & STATUS == flags, f"flags {s.rflags & STATUS:#x}, by hand {flags:#x}"
