"""A load and a store of one address through a flat segment check it once.

An ``add [edi], al``-style update through a flat segment (base 0, a limit at
or above the top of RAM, checked by the region's guard) loads, then stores
the same byte: the check that it is in RAM is made at the load (by indexing
RAM, which raises past its end) and holds at the store (the store still
checks for translated code).  At the end of RAM
the load's check sends the instruction to the interpreter, which reaches
what is there (unassigned memory), as on the interpreter alone."""

import re

import pytest

from tests.differential.pm32 import guest
from tests.differential.translated import machine, tcg_regions

RAM = 16 << 20

GUEST = guest(f"""
    mov ebp, 3
again:
    mov edi, {RAM - 40}         ; the last pass runs past the end of RAM
    mov ecx, 30
    add ecx, ebp
    add ecx, ebp
    add ecx, ebp
    add ecx, ebp
bump:
    add byte ptr [edi], 5       ; a load and a store of one address
    inc edi
    loop bump
    dec ebp
    jnz again
    mov [0x500], edi
    hlt
""")


def _run(src, tail, accel, log=None):
    with machine(src, accel, RAM, log) as m:
        r = m.run(icount_limit=100_000)
        return r.reason, r.icount, tuple(m.cpu.regs[:8]), m.ram.read_bytes(RAM - tail, tail)


def run(accel, log=None):
    return _run(GUEST, 64, accel, log)


def test_the_store_does_not_check_the_address_again():
    regions = tcg_regions(run)
    for code in regions:
        stores = re.findall(r"MM\[(r\d+)\] = ", code)
        assert stores
        for r in set(stores):
            loads = len(re.findall(rf"= MM\[{r}\]", code))
            assert len(re.findall(rf"\b{r} > {RAM - 1}", code)) <= loads


def test_a_byte_load_is_checked_by_the_index_raising():
    """A byte load through a flat segment tests nothing: past the end of RAM
    indexing it raises, and the handler bails (the first test's last pass)."""
    regions = tcg_regions(run)
    for code in regions:
        assert re.search(r"try:\n +t\d+ = MM\[r7\]\n +except IndexError:\n +e = \d+; break", code)


WORDS = guest(f"""
    mov ebp, 3
again:
    mov ebx, {RAM - 0x1000 - 100}   ; the last pass runs past the end of RAM
    xor eax, eax
    mov ecx, 20
    add ecx, ebp
    add ecx, ebp
    add ecx, ebp
    add ecx, ebp
count:
    add dword ptr [ebx + eax*4 + 0x1000], 3  ; a computed address, loaded and stored
    inc eax
    loop count
    dec ebp
    jnz again
    mov [0x500], eax
    hlt
""")


def run_words(accel, log=None):
    return _run(WORDS, 128, accel, log)


@pytest.mark.parametrize("runner, written", [(run, 40), (run_words, 100)])
def test_past_the_end_of_ram_the_state_is_the_interpreters(runner, written):
    want = runner("interp")
    assert want[0] == "halt" and want[3][-written:] != bytes(written)
    assert runner("tcg") == want


def test_a_computed_address_is_computed_and_checked_once():
    """The store of a read-modify-write uses the local its load computed
    the address into, and does not test again that it ends in RAM."""
    regions = tcg_regions(run_words)
    stores = 0
    for code in regions:
        for a in re.findall(r"W4\[(a\d+) >> 2\] = ", code):
            stores += 1
            loads = len(re.findall(rf"= W4\[{a} >> 2\]", code))
            assert loads and len(re.findall(rf"\b{a} > {RAM - 4}", code)) <= loads
    assert stores
