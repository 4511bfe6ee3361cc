"""32-bit accesses through flat segments (base 0, limit 4 GiB) in a region.

The region's entry guard checks once that DS and SS are flat -- base 0 and
a limit at or above the top of RAM -- and their 32-bit accesses then keep
one check each, that the access ends in RAM (SDM Vol. 3A §3.4.5, §5.3: an
access within such a limit never faults, and its offset is its linear
address).  What must still hold, as on the interpreter: a dword that runs
past the end of RAM reads what is there (unassigned memory), and once DS is
reloaded with a segment of limit 0xFFF, the same translated loop's access
beyond that limit raises #GP (no IDT: a triple fault)."""

import io

import pytest

from emu import loader
from emu.machine import Machine

from tests.differential.pm32 import guest

RAM = 16 << 20

GUEST = guest(f"""
    xor ebx, ebx
    mov ebp, 40                 ; the loop gets hot and is translated
outer:
    mov esi, {RAM - 24}         ; the last dwords run past the end of RAM
    call sum
    dec ebp
    jnz outer
    mov [0x500], ebx
    mov ax, 0x18
    mov ds, ax
    mov esi, 0xff0              ; reaches 0x1000: #GP
    call sum
    mov byte ptr [0x504], 1     ; never reached
    hlt
sum:                            ; ebx += the 12 dwords at esi, 2 bytes apart
    mov ecx, 12
more:
    push ecx
    mov eax, [esi]
    add ebx, eax
    add [0x508], eax            ; a 16-bit offset: the address itself
    add esi, 2
    pop ecx
    loop more
    ret
""")


def run(accel, log=None):
    flags = ("out_asm",) if log is not None else ()
    m = Machine(accel=accel, memory=RAM, log=log, log_flags=flags)
    try:
        m.load_image(loader.assemble(GUEST, "<test>", 0x7C00).data)
        r = m.run(icount_limit=100_000)
        return r, m.ram.read_bytes(0x500, 12)
    finally:
        m.close()


def test_the_translator_agrees_at_the_end_of_ram_and_past_a_reloaded_limit():
    want_r, want_mem = run("interp")
    assert (want_r.reason, want_r.status) == ("shutdown", 3) and "#GP" in want_r.message
    got_r, got_mem = run("tcg")
    assert (got_r.reason, got_r.status, got_r.message) == (want_r.reason, want_r.status, want_r.message)
    assert got_mem == want_mem and got_mem[4] == 0


@pytest.mark.parametrize("n", [2, 3])     # SS, DS
def test_flat_32_bit_accesses_check_no_limit(n):
    """Every region whose guard found segment n flat checks no access
    against its limit (regions translated after the reload are not flat)."""
    log = io.StringIO()
    run("tcg", log)
    flat = [code for code in log.getvalue().split("OUT:")
            if f"B{n} != 0 or L{n} < {RAM - 1}" in code]
    assert flat
    for code in flat:
        assert "4(MM, " in code         # a dword load (U4) or store (P4)
        assert f"> L{n}" not in code


def test_a_16_bit_offset_through_a_flat_segment_adds_no_base():
    """Flat: the base is 0, so a constant offset is the address itself."""
    log = io.StringIO()
    run("tcg", log)
    flat = [code for code in log.getvalue().split("OUT:") if "B3 != 0 or L3 <" in code]
    assert flat
    for code in flat:
        assert "1288" in code and "B3 +" not in code
