"""A read-modify-write computes its address once.

``add [bx+si+2], ax`` loads, then stores, the word at one address: the
front end computes the store's offset again, but the load keeps the
physical address in a local and the store reads it (its code test still
made), while the locals it is computed from are unchanged.  The guest
updates words and bytes through DS (a segment that holds the code) at
offsets that are odd on some passes, one of them a word at offset 0xFFFF
at the end (#GP in real-address mode, SDM Vol. 3A ch. 20), another in the code's
granule, and an XCHG that writes the register its address reads:
stopped anywhere, the state is the interpreter's."""

import re

import pytest

from tests.differential.translated import stopped_at, tcg_regions
from tests.unit.ir.x86_guests import REAL_GP_ENTRY

GUEST = REAL_GP_ENTRY + """
    mov bx, 0x600
    xor si, si
    mov cx, 300
again:
    mov ax, cx
    add [bx+si+2], ax           ; a word, odd when SI is
    inc byte ptr [bx+si+1]
    shl word ptr [bx+si+4], 1
    xchg bx, [bx+si+8]          ; BX written after the store
    add [0x5F0], bx
    mov bx, 0x600
    sub word ptr [near_code], 3 ; in the code's granule
    add si, 3
    and si, 63
    cmp cx, 2
    jne same
    mov bx, 0xFFF0
    mov si, 0xD                 ; [bx+si+2] at 0xFFFF: #GP
same:
    loop again
    mov [0x500], ax
    hlt
near_code:
    .word 0x1234
gp:
    mov [0x502], bx
    mov [0x504], si
    hlt
"""


def run(accel, limit, log=None):
    return stopped_at(GUEST, accel, 16 << 20, limit, (0x500, 0x180), log)


def test_the_store_reads_the_address_the_load_computed():
    regions = tcg_regions(run, 100_000)
    body = [code for code in regions if "CP[" in code]
    assert body
    for code in body:
        # a store's test names a local: no address computed again for it
        assert not re.search(r"if .*\(p\d+ := B3 \+[^\n]*CP\[", code)
        assert re.search(r"= (?:MM|U2)\[?\(?\(p\d+ := B3 \+", code) \
            or re.search(r"if \(p\d+ := B3 \+ a\d+\) & 1:", code)


@pytest.mark.parametrize("limit", [20, 23, 31, 500, 1001, 2503, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)
    if limit == 100_000:
        state = run("tcg", limit)
        assert state[0] == "halt" and state[-1][2:4] == b"\xf0\xff"
