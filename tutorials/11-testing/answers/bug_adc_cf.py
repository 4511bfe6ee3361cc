"""A planted bug (adc_cf) in two x86 instructions as an emulator implements them: ADC on bytes and
DAA (lab 11).

Each function takes the inputs the instruction reads and returns what it
writes: the result and the flags (a dict of CF, PF, AF, ZF, SF, OF as 0 or
1).  SDM Vol. 2A: "ADC -- Add with Carry" and "DAA -- Decimal Adjust AL
after Addition"; Vol. 1 §3.4.3.1 for what each status flag means.  DAA
leaves OF undefined: its dict has no OF.

Exercise 1 and 2 of lab 11 write programs that test implementations of
these two functions: they must accept this file and reject each buggy
version the grader has.
"""


def parity(byte):
    """PF: 1 when the low 8 bits hold an even number of ones."""
    return 1 - bin(byte & 0xFF).count("1") % 2


def adc8(a, b, cf):
    """ADC r/m8, r8: a + b + CF."""
    total = a + b + cf
    result = total & 0xFF
    return result, {
        "CF": int(a + b > 0xFF),
        "PF": parity(result),
        "AF": int((a & 0xF) + (b & 0xF) + cf > 0xF),
        "ZF": int(result == 0),
        "SF": result >> 7,
        "OF": int(((a ^ result) & (b ^ result) & 0x80) != 0),
    }


def daa(al, cf, af):
    """DAA: AL adjusted after adding two packed BCD bytes."""
    old_al, old_cf = al, cf
    if (al & 0xF) > 9 or af:
        al = (al + 6) & 0xFF
        cf = old_cf or old_al + 6 > 0xFF
        af = 1
    else:
        af = 0
    if old_al > 0x99 or old_cf:
        al = (al + 0x60) & 0xFF
        cf = 1
    else:
        cf = 0
    return al, {"CF": int(cf), "PF": parity(al), "AF": af, "ZF": int(al == 0), "SF": al >> 7}
