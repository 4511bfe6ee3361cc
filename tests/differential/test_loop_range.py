"""Loops whose pointers step by constants: the translator tests their ranges
once at the loop's entry (emu.ir.loop_range) instead of every pass.

The guests are string routines written for this test -- a STOSW fill, a byte
copy by MOV/INC, a MOVSB copy downwards (DF = 1), a LODSB sum up to a zero
byte (strlen), a word compare (memcmp) and a LODSB/ADD/STOSB mix -- in
16-bit real mode and in 32-bit protected mode.  Each run is checked against
a Python model of the routines and against the interpreter (wherever a
budget stops it), and the generated code is traced: the per-pass tests (a
register's wrap correction, a store's test for translated code) run a few
times per loop entry, not once per pass.  The loops that must take the exact
path do: a pointer that wraps at 64 KiB, a store into the loop's own code,
a load past the end of RAM."""

import io
import re
import sys

import pytest

from tests.differential.pm32 import guest as pm_guest
from tests.differential.translated import machine, regions_in, stop_state

RAM = 16 << 20
N = 600                             # words filled; 2 * N bytes copied and mixed

# -- the guests --------------------------------------------------------------

RM = f"""
    cld
    mov ax, 0x1000
    mov ds, ax
    mov ax, 0x2000
    mov es, ax
    xor di, di                      ; es:0 = N words, 0x1234 + 3 i
    mov ax, 0x1234
    mov cx, {N}
fill:
    stosw
    add ax, 3
    loop fill
    xor si, si                      ; ds:0x100 = es:0 .. (MOV/INC byte copy)
    mov di, 0x100
    mov cx, {2 * N}
copy:
    mov al, es:[si]
    mov [di], al
    inc si
    inc di
    dec cx
    jnz copy
    std                             ; ds:0x1000.. = ds:0x100.. by MOVSB downwards
    push es
    push ds
    pop es
    mov si, 0x100 + {2 * N - 1}
    mov di, 0x1000 + {2 * N - 1}
    mov cx, {2 * N}
back:
    movsb
    loop back
    pop es
    cld
    mov byte [0x100 + {2 * N - 100}], 0
    mov si, 0x100                   ; bx = the sum of the bytes before the zero
    xor bx, bx
strlen:
    lodsb
    add bl, al
    adc bh, 0
    test al, al
    jnz strlen
    mov bp, si                      ; bp: one past the zero
    mov si, 0x1000                  ; dx = the words equal in ds:0x1000 and es:0
    xor di, di
    mov cx, {N}
    xor dx, dx
cmpw:
    mov ax, [si]
    cmp ax, es:[di]
    jne differ
    inc dx
differ:
    add si, 2
    add di, 2
    loop cmpw
    mov si, 0x1000                  ; es:0.. += ds:0x1000.. (LODSB/ADD/STOSB)
    xor di, di
    mov cx, {2 * N}
mix:
    lodsb
    add al, es:[di]
    stosb
    loop mix
    hlt
"""

PM = pm_guest(f"""
    cld
    mov edi, 0x200000               ; N words, 0x1234 + 3 i
    mov ax, 0x1234
    mov ecx, {N}
fill:
    stosw
    add ax, 3
    loop fill
    mov esi, 0x200000               ; 0x210000 = 0x200000.. (MOV/INC byte copy)
    mov edi, 0x210000
    mov ecx, {2 * N}
copy:
    mov al, [esi]
    mov [edi], al
    inc esi
    inc edi
    dec ecx
    jnz copy
    std                             ; 0x220000.. = 0x210000.. by MOVSB downwards
    mov esi, 0x210000 + {2 * N - 1}
    mov edi, 0x220000 + {2 * N - 1}
    mov ecx, {2 * N}
back:
    movsb
    loop back
    cld
    mov byte [0x210000 + {2 * N - 100}], 0
    mov esi, 0x210000               ; ebx = the sum of the bytes before the zero
    xor ebx, ebx
strlen:
    lodsb
    movzx eax, al
    add ebx, eax
    test al, al
    jnz strlen
    mov ebp, esi
    mov esi, 0x220000               ; edx = the dwords equal in 0x220000.. and 0x200000..
    mov edi, 0x200000
    mov ecx, {N // 2}
    xor edx, edx
cmpd:
    mov eax, [esi]
    cmp eax, [edi]
    jne differ
    inc edx
differ:
    add esi, 4
    add edi, 4
    loop cmpd
    mov esi, 0x220000               ; 0x200000.. += 0x220000.. (LODSB/ADD/STOSB)
    mov edi, 0x200000
    mov ecx, {2 * N}
mix:
    lodsb
    add al, [edi]
    stosb
    loop mix
    hlt
""")


def model():
    """What the routines leave: the mixed buffer, the sum of the bytes
    before the first zero, that zero's index + 1, the equal words' count."""
    words = [(0x1234 + 3 * i) & 0xFFFF for i in range(N)]
    a = bytearray(b"".join(w.to_bytes(2, "little") for w in words))
    b = bytearray(a)                    # the copy, then the copy of the copy
    c = bytearray(b)
    b[2 * N - 100] = 0
    zero = b.index(0)                   # (a word's low byte may be zero before it)
    total = sum(b[:zero])
    equal = sum(1 for i in range(N) if c[2 * i:2 * i + 2] == a[2 * i:2 * i + 2])
    mixed = bytes((x + y) & 0xFF for x, y in zip(a, c))
    return mixed, total, zero + 1, equal


def run(src, accel, limit=None, log=None, results=None):
    with machine(src, accel, RAM, log) as m:
        r = m.run(icount_limit=limit)
        return r, stop_state(m, r), results and results(m)


def results_rm(m):
    regs = m.cpu.regs
    return (m.ram.read_bytes(0x20000, 2 * N), regs[3] & 0xFFFF, (regs[5] & 0xFFFF) - 0x100,
            regs[2] & 0xFFFF)


def results_pm(m):
    regs = m.cpu.regs
    return (m.ram.read_bytes(0x200000, 2 * N), regs[3], regs[5] - 0x210000, regs[2] * 2)


@pytest.mark.parametrize("src, results", [(RM, results_rm), (PM, results_pm)], ids=["rm16", "pm32"])
def test_the_routines_compute_what_the_model_does(src, results):
    r, _, got = run(src, "tcg", results=results)
    assert r.reason == "halt"
    assert got == model()


@pytest.mark.parametrize("src", [RM, PM], ids=["rm16", "pm32"])
@pytest.mark.parametrize("limit", [1000, 2411, 5003, 7777, 9001, 12345, None])
def test_stopped_anywhere_the_state_is_the_interpreters(src, limit):
    states = []
    for accel in ("interp", "tcg"):
        with machine(src, accel, RAM) as m:
            r = m.run(icount_limit=limit)
            states.append(stop_state(m, r) + (m.ram.read_bytes(0x20000, 2 * N),
                                              m.ram.read_bytes(0x200000, 2 * N)))
    assert states[0] == states[1]


# -- counting the tests each pass makes --------------------------------------

# a pointer's or the count's wrap correction (SI, DI, CX: alone, or folded
# into a jump's condition), and a store's test for translated code (a value's
# wrap -- the fill's AX, the compare's count of equal words -- stays: a wrap
# there would end the fast passes early)
_PER_PASS = re.compile(r"if (r[167]) (> \d+: \1 -|< 0: \1 \+)= \d+|\((r[167]) := \3 [+-] \d+\)|CP\[")


# a segment limit's test
_LIMIT_TESTS = re.compile(r"r\d+ > L\d")


def traced_tests(src, per_pass=_PER_PASS) -> tuple:
    """Run ``src`` on tcg with the region functions traced: (the lines of
    per-pass tests (``per_pass`` finds them) they executed, all the lines
    they executed)."""
    log = io.StringIO()
    with machine(src, "tcg", RAM, log) as m:
        sources = {}
        counts = {}

        def lines_of(code):
            if code not in sources:
                found = None
                for text in regions_in(log):
                    body = text[text.index("def "):]
                    unit = compile(body, code.co_filename, "exec")
                    fn = next(c for c in unit.co_consts if hasattr(c, "co_code"))
                    if fn.co_code == code.co_code and fn.co_consts == code.co_consts:
                        found = body.splitlines()
                sources[code] = found
            return sources[code]

        def local(frame, event, arg):
            if event == "line":
                k = (frame.f_code, frame.f_lineno)
                counts[k] = counts.get(k, 0) + 1
            return local

        def trace(frame, event, arg):
            code = frame.f_code
            return local if code.co_filename.startswith("<region") and code.co_name != "<module>" \
                else None

        sys.settrace(trace)
        try:
            r = m.run()
        finally:
            sys.settrace(None)
        assert r.reason == "halt"
        tests = executed = 0
        for (code, line), n in counts.items():
            text = lines_of(code)
            assert text is not None, "a region's source is not in the log"
            executed += n
            if per_pass.search(text[line - 1]):
                tests += n
        return tests, executed


@pytest.mark.parametrize("src", [RM, PM], ids=["rm16", "pm32"])
def test_per_pass_tests_run_once_per_loop_entry(src):
    # about 7,000 passes of the loops: a test in each pass would be thousands;
    # each loop's entry tests its ranges once (and the compare loop, whose
    # paths back alternate, is not a counted one: its two pointers' wraps
    # run 2 x 300 times in 32-bit code, 2 x 600 in 16-bit code)
    tests, executed = traced_tests(src)
    assert executed > 30_000
    assert tests < 1_500


# -- the passes that must take the exact path ---------------------------------

WRAP = """
    mov ax, 0x3000
    mov es, ax
    mov di, 0xffc0                  ; 64 words: the 33rd wraps DI to 0
    mov ax, 0x0101
    mov cx, 64
fill:
    stosw
    add ax, 0x0101
    loop fill
    hlt
"""


@pytest.mark.parametrize("limit", [40, 90, 100, 150, None])
def test_a_pointer_that_wraps_at_64k_wraps(limit):
    states = []
    for accel in ("interp", "tcg"):
        with machine(WRAP, accel, RAM) as m:
            r = m.run(icount_limit=limit)
            states.append(stop_state(m, r) + (m.ram.read_bytes(0x30000, 0x10000),))
    assert states[0] == states[1]
    if limit is None:
        mem = states[1][-1]
        assert mem[0xffc0:0x10000] == bytes(((i + 1) * 0x0101 & 0xFFFF).to_bytes(2, "little")[j]
                                            for i in range(32) for j in (0, 1))
        assert mem[:0x40] == bytes(((i + 33) * 0x0101 & 0xFFFF).to_bytes(2, "little")[j]
                                   for i in range(32) for j in (0, 1))


SMC = pm_guest("""
    mov edi, patch - 40             ; the stores run into the loop's own code:
    mov ecx, 60                     ; 'patch' becomes INC EBX (0x43), run next pass
    mov al, 0x43
    xor ebx, ebx
fill:
    stosb
patch:
    nop
    loop fill
    hlt
""")


def test_a_loop_storing_into_its_own_code_runs_the_new_code():
    states = []
    for accel in ("interp", "tcg"):
        with machine(SMC, accel, RAM) as m:
            r = m.run(icount_limit=10_000)
            states.append(stop_state(m, r))
    assert states[0] == states[1]
    assert states[1][0] == "halt"
    assert states[1][3][3] > 0                  # EBX: the patched code ran


def test_the_fast_copy_leaves_out_only_what_its_entry_tests():
    log = io.StringIO()
    run(PM, "tcg", None, log)
    fast = [code for code in regions_in(log) if "fast_n = " in code]
    assert fast
    for code in fast:
        head = code[code.index("fast_n = "):]
        guard = head.splitlines()[1]
        copy = head[:head.index("else:")]
        # a copy without code tests has its store ranges tested at the entry
        if "MM[r7] = " in copy and "CP[" not in copy:
            assert "CP.find(" in guard


LIMIT = pm_guest("""
    mov ax, 0x18                    ; ES: limit 0xFFF
    mov es, ax
    mov edi, 0x800
    mov ecx, 0x900                  ; the 0x801st store is past the limit
    mov al, 3
fill:
    stosb
    add al, 5
    loop fill
    hlt
""")


@pytest.mark.parametrize("limit", [500, 3000, 6154, 6155, 6156, None])
def test_a_store_past_the_segment_limit_faults_where_the_interpreters_does(limit):
    states = []
    for accel in ("interp", "tcg"):
        with machine(LIMIT, accel, RAM) as m:
            r = m.run(icount_limit=limit)
            states.append(stop_state(m, r) + (m.ram.read_bytes(0x800, 0x900),))
    assert states[0] == states[1]


def test_a_limit_checked_store_is_tested_once_per_loop_entry():
    src = LIMIT.replace("mov ecx, 0x900", "mov ecx, 0x7ff")
    tests, executed = traced_tests(src, _LIMIT_TESTS)
    assert executed > 4 * 0x7ff
    assert tests < 100
