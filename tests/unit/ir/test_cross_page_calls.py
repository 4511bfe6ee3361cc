"""Calls into another page: without paging a direct jump is chained to its
target wherever it is (a store into the target's page unlinks it), so a
loop calling a function in another page does not look the function up
on every call; the code changing under the chain is seen at once."""

import io

import pytest

from emu import bench
from emu.asm import assemble_file
from emu.machine import Machine

# the loop calls f, one page away; after half the calls it patches the
# immediate of f's XOR (a store into f's page, which holds translated code)
CROSS_PAGE = """
.include "flat32.inc"
main32:
    mov ecx, {n}
    xor eax, eax
again:
    push ecx
    call f
    add esp, 4
    cmp ecx, {half}
    jne same
    mov byte [key], 0x33
same:
    loop again
    jmp pm_done
.include "pm_out.inc"
.space 4096
f:
    push ebp
    mov ebp, esp
    push ebx
    mov ebx, [ebp+8]
    add eax, ebx
    db 0x83, 0xf0           ; xor eax, imm8
key:
    db 0x55
    pop ebx
    pop ebp
    ret
"""


def image(n):
    return assemble_file(CROSS_PAGE.format(n=n, half=n // 2), bench.guest_path("pm_fib"))


def run(accel, img, limit=None):
    m = Machine(accel=accel)
    m.load_image(img.data, img.name, img.entry)
    r = m.run(icount_limit=limit)
    out = (r.reason, r.icount, m.cpu.snapshot(), m.serial_output(), m.ram.read_bytes(0, 0x10000))
    stats = m.accel.stats() if accel == "tcg" else None
    m.close()
    return out, stats


def test_a_call_into_another_page_is_chained():
    (reason, *_), stats = run("tcg", image(2000))
    assert reason == "debug-exit"
    assert stats["lookups"] < 400, stats        # not one per call (2000) and return


@pytest.mark.parametrize("limit", [None, 5003, 20001])
def test_code_patched_under_a_cross_page_chain_matches_the_interpreter(limit):
    img = image(2000)
    ti, _ = run("interp", img, limit)
    tt, stats = run("tcg", img, limit)
    assert tt == ti
    # (the patch comes after about 14000 instructions)
    assert limit is not None and limit < 14000 or stats["invalidations"] >= 1


def test_a_region_that_does_not_loop_takes_no_code_free_window():
    """f's region runs once per call, and so does the caller's (its loop
    goes through f's region): the few stores of one pass do not pay for
    taking the stack's window at entry (the fib guests' regions, which
    loop, do take it: test_code_free_window)."""
    img = image(300)
    log = io.StringIO()
    m = Machine(accel="tcg", log=log, log_flags=("out_asm",))
    m.load_image(img.data, img.name, img.entry)
    assert m.run().reason == "debug-exit"
    m.close()
    regions = {}
    for chunk in log.getvalue().split("def region_")[1:]:
        regions[int(chunk[:chunk.index("(")], 16)] = chunk
    assert img.symbols["f"] in regions and len(regions) >= 2
    assert not [r for r in regions.values() if "SWG()" in r]
