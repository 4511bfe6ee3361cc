"""A register write that only a bail can see, made at that bail.

``lodsb; add al, [edi]`` writes AL twice; between the two writes only the
ADD's load can leave the block (a bail: the interpreter runs the ADD, SDM
Vol. 2A "ADD", from AL as LODSB left it).  The main line makes only the
second write, and the bail makes the first before it stores the registers
back.  Past the end of RAM the ADD bails, and the state is the
interpreter's, wherever the budget stops the run."""

import re

import pytest

from tests.differential.pm32 import guest
from tests.differential.translated import machine, stop_state, tcg_regions

RAM = 16 << 20

GUEST = guest(f"""
    mov ebp, 3
    xor ebx, ebx
again:
    mov esi, 0x2000
    mov edi, {RAM - 40}         ; the last pass runs past the end of RAM
    lea ecx, [ebp * 4 + 30]
mix:
    lodsb
    add al, [edi]
    stosb
    add bl, al                  ; every AL shows in BL
    loop mix
    dec ebp
    jnz again
    hlt
""")


def run(accel, limit, log=None):
    with machine(GUEST, accel, RAM, log) as m:
        m.ram.load(0x2000, bytes(range(1, 80)))
        r = m.run(icount_limit=limit)
        return stop_state(m, r) + (m.ram.read_bytes(RAM - 64, 64),)


@pytest.mark.parametrize("limit", [400, 401, 402, 403, 100_000])
def test_past_the_end_of_ram_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)


def test_the_first_write_is_made_only_at_the_bail():
    for code in tcg_regions(run, 100_000):
        loop = code.split("while True:")[-1].split("e >= 0")[0]
        # (the loop's body: its copy for passes no range test can fail, when
        # it has one, emu.ir.loop_range, comes first)
        lines = [line for line in loop.splitlines()[1:]
                 if "for left in range(" not in line and "fast_n" not in line]
        top = len(lines[0]) - len(lines[0].lstrip())        # the loop body's (counted or not)
        body = [line for line in lines if re.match(rf" {{{top}}}r0 = ", line)]
        assert len(body) == 1                                       # the ADD's
        assert re.search(r"except IndexError:\n +r0 = r0 & 65280 \| t\d+\n", loop)   # LODSB's
