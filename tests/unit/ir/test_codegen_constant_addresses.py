"""Words at constant offsets in a region.

DS's base is a multiple of 8 in real mode (a paragraph number times 16), so
``[0x600]`` is an aligned word and ``[0x603]`` a misaligned one whatever DS
holds, and neither offset crosses the limit 0xFFFF: the region reads and
writes the aligned ones through RAM's typed views with no test of the
alignment or of the limit, and the misaligned ones through ``struct``.  A
store still checks its granule for translated code.  Stopped anywhere, the
state is the interpreter's."""

import re

import pytest

from tests.differential.translated import machine, stop_state, tcg_regions

GUEST = """
    mov ax, 0x50
    mov ds, ax
    mov cx, 300
    mov word [0x600], 1
again:
    mov ax, [0x600]
    add ax, [0x603]
    mov [0x610], ax
    mov [0x615], ax
    mov ebx, [0x608]
    add ebx, 0x12345
    mov [0x608], ebx
    inc word [0x600]
    loop again
    hlt
"""


MULS = """
    mov ax, 0x50
    mov ds, ax
    mov cx, 300
    xor bx, bx
    mov si, 7
again:
    mov ax, si
    mul word [0x602]            ; CF and OF from the product: EFLAGS's record
    mov ax, si
    mul word [0x604]            ; a load: no exit before the MUL
    add bx, ax
    adc si, dx
    loop again
    hlt
"""


def run(accel, limit, log=None, src=GUEST):
    with machine(src, accel, 1 << 20, log) as m:
        r = m.run(icount_limit=limit)
        return stop_state(m, r) + (m.ram.read_bytes(0xB00, 0x20),)


@pytest.mark.parametrize("src", [GUEST, MULS], ids=["words", "muls"])
@pytest.mark.parametrize("limit", [60, 61, 62, 63, 64, 65, 1001, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit, src):
    assert run("tcg", limit, src=src) == run("interp", limit, src=src)


def test_the_flag_record_is_not_kept_for_constant_loads():
    for code in tcg_regions(lambda accel, limit, log: run(accel, limit, log, MULS), 100_000):
        loop = code[code.index("while True:"):code.index("g = CCG[e]")]
        assert "rflags(" not in loop
        # the ADC's record is stored by the exits alone, not on the way round
        assert not re.search(r"^ +cc_\w+(, cc_\w+)* = ", loop, re.M)


def view_index(code: str, offset: int, shift: int) -> str:
    """The index into a word view of DS:offset: computed once at the
    region's entry (``h = B3 + offset``, ``w = h >> shift``)."""
    h = re.search(rf"^ +(h\d+) = B3 \+ {offset}$", code, re.M)
    assert h, f"B3 + {offset} is not computed at the region's entry"
    w = re.search(rf"^ +(w\d+) = {h.group(1)} >> {shift}$", code, re.M)
    assert w, f"its index into the view is not computed at the region's entry"
    return w.group(1)


def test_aligned_constant_offsets_go_through_the_views_untested():
    for code in tcg_regions(run, 100_000):
        assert re.search(rf"= W2\[{view_index(code, 1536, 1)}\]", code)      # mov ax, [0x600]
        assert re.search(rf"= W4\[{view_index(code, 1544, 2)}\]", code)      # mov ebx, [0x608]
        assert re.search(rf"W2\[{view_index(code, 1552, 1)}\] = ", code)     # mov [0x610], ax
        h = re.search(r"^ +(h\d+) = B3 \+ 1539$", code, re.M).group(1)
        assert re.search(rf"U2\(MM, {h}\)", code)                          # add ax, [0x603]
        assert not re.search(r"\b(1536|1544|1552|1539) > 6553", code)      # no limit test
        assert not re.search(r"\(B3 \+ (1536|1544|1552)\)\) & [13]\b", code)   # no alignment test
        assert not re.search(r"h\d+ & [13]\b", code)


def test_a_constant_addresses_code_test_is_made_once_at_the_entry():
    # mov [0x610], ax: its granule and bytes are looked up in the prologue
    # (code is marked only between runs of translated code); the loop tests a local
    for code in tcg_regions(run, 100_000):
        h = re.search(r"^ +(h\d+) = B3 \+ 1552$", code, re.M).group(1)
        c = re.search(rf"^ +(c\d+) = CP\[{h} >> 6\] and CBF\(b'\\1', {h}, {h} \+ 2\) >= 0$",
                      code, re.M)
        assert c, "the store's code test is not computed at the region's entry"
        loop = code[code.index("while True:"):]
        assert re.search(rf"^ +if {c.group(1)}:$", loop, re.M)
        assert "CBF(" not in loop and "CP[" not in loop
