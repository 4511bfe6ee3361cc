"""The code-free window of a region's stack stores (CodeFreeWindow): a
block of RAM with no translated code around the stack, so that a PUSH, a
CALL or a store into a frame tests one mask instead of the end of RAM, its
alignment and the code map."""

import io
import random

import pytest

from emu import bench, loader
from emu.asm import assemble_file
from emu.ir.codegen import CodeFreeWindow
from emu.machine import Machine
from emu.memory import GRANULE_SHIFT

RAM = 1 << 20


def window_bytes(w):
    base, m1 = w[0], w[1]
    return base, base + (-m1)


def test_the_window_holds_its_address_and_no_code():
    rng = random.Random(5)
    cp = bytearray(RAM >> GRANULE_SHIFT)
    for g in rng.sample(range(len(cp)), 40):
        cp[g] = 1
    win = CodeFreeWindow(cp, RAM)
    for _ in range(2000):
        p = rng.randrange(RAM)
        w = win.around(p)
        if cp[p >> GRANULE_SHIFT]:
            assert w == CodeFreeWindow.NONE
            continue
        lo, hi = window_bytes(w)
        size = hi - lo
        assert size & (size - 1) == 0 and lo % size == 0 and 64 <= size <= CodeFreeWindow.SPAN
        assert lo <= p < hi <= RAM
        assert not any(cp[lo >> GRANULE_SHIFT:hi >> GRANULE_SHIFT])
        # the bounds: all the code-free bytes around the block, up to SPAN either way
        wlo, whi = w[5:]
        assert wlo <= lo and hi <= whi <= RAM and not any(cp[wlo >> GRANULE_SHIFT:whi >> GRANULE_SHIFT])
        g = p >> GRANULE_SHIFT << GRANULE_SHIFT
        assert (whi == RAM or cp[whi >> GRANULE_SHIFT] or whi - g >= CodeFreeWindow.SPAN) \
            and (wlo == 0 or cp[(wlo - 1) >> GRANULE_SHIFT] or g - wlo >= CodeFreeWindow.SPAN)
        # the largest such block: the one twice as big holds code, leaves RAM or is too big
        big = size * 2
        blo = lo // big * big
        assert (big > CodeFreeWindow.SPAN or blo + big > RAM
                or any(cp[blo >> GRANULE_SHIFT:(blo + big) >> GRANULE_SHIFT]))
        # the test of a store: 0 exactly for an aligned one inside
        for q, n in ((lo, 4), (hi - 4, 4), (hi - 2, 4), (lo - 4, 4), (hi, 2), (lo + 1, 2), (hi - 8, 8)):
            inside = lo <= q and q + n <= hi and q % n == 0
            assert (((q ^ w[0]) & w[{1: 1, 2: 2, 4: 3, 8: 4}[n]]) == 0) == inside, (hex(q), n)


def test_the_window_is_dropped_once_code_comes_into_it():
    cp = bytearray(RAM >> GRANULE_SHIFT)
    win = CodeFreeWindow(cp, RAM)
    assert win.current() == CodeFreeWindow.NONE
    w = win.around(0x9000)
    assert w != CodeFreeWindow.NONE and win.current() == w
    lo, hi = window_bytes(w)
    cp[(hi - 1) >> GRANULE_SHIFT] = 1
    assert win.current() == CodeFreeWindow.NONE
    assert win.around(RAM) == CodeFreeWindow.NONE       # not RAM


@pytest.mark.parametrize("name", ["rm_fib", "pm_fib"])
def test_stack_stores_test_the_window_alone(name):
    """The pushes and CALLs of the fib guests: one test of the window on the
    path; the code map is read only on the way for stores outside it."""
    log = io.StringIO()
    image = bench.guest_image(name, 10)
    m = Machine(accel="tcg", log=log, log_flags=("out_asm",))
    m.load_image(image.data, image.name, image.entry)
    r = m.run()
    m.close()
    assert r.reason == "debug-exit"
    code = log.getvalue()
    code = code[code.index("def region_"):]
    tests = [ln.strip() for ln in code.splitlines() if "^ WB) & WM" in ln]
    assert tests and all(ln.startswith("if ") and "CP[" not in ln for ln in tests)
    # every store of the region is the stack's: none tests the code map first
    assert not [ln for ln in code.splitlines() if ln.strip().startswith("if ") and "or CP[" in ln
                and "> " not in ln]


STACK_BELOW_CODE = """
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00          ; right below the code: the window ends there
    mov cx, 300
again:
    push cx
    push bp
    mov bp, sp
    push cx
    push cx
    mov [bp-6], cx
    pop ax
    pop ax
    pop bp
    pop ax
    loop again
    mov al, 0
    out 0xf4, al
"""

STACK_WALKING = """
.include "flat32.inc"
main32:
    mov ecx, 100
again:
    push ecx
    call down               ; the stack moves 4 KiB down on each pass:
    loop again              ; out of one window into the next
    mov eax, esp
    jmp pm_done
down:
    pop ebx
    sub esp, 4092
    push ebx
    ret
.include "pm_out.inc"
"""

GUESTS = {"rm_below_code": lambda: loader.assemble(STACK_BELOW_CODE, "<test>", 0x7C00),
          "pm_walking": lambda: assemble_file(STACK_WALKING, bench.guest_path("pm_fib"))}


@pytest.mark.parametrize("guest", GUESTS)
@pytest.mark.parametrize("limit", [None, 301, 777, 2000])
def test_stack_stores_match_the_interpreter(guest, limit):
    """A stack right below the code (the window must end there) and one
    that moves out of its window again and again (each time the window
    moves too): as on the interpreter, at every kind of stop."""
    image = GUESTS[guest]()
    runs = {}
    for accel in ("interp", "tcg"):
        m = Machine(accel=accel)
        m.load_image(image.data, image.name, image.entry)
        r = m.run(icount_limit=limit)
        runs[accel] = (r.reason, r.icount, m.cpu.snapshot(), m.ram.read_bytes(0, 0x100000),
                       m.serial_output())
        m.close()
    assert runs["tcg"] == runs["interp"]
    assert limit is not None or runs["tcg"][0] == "debug-exit"
