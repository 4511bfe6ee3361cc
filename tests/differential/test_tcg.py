"""The translator against the interpreter: same UART output, exit status,
icount, exit counts and final canonical state, on guests chosen to exercise
what a translator can get wrong -- chaining, self-modifying code (in the
running block, in a block already chained to, in the second page of an
instruction straddling a page boundary, in a block reached through an
indirect jump), loops across a page boundary, faults in the middle of a
block, the instruction budget -- and on generated instruction sequences
(hypothesis, derandomized: the same examples every run), in lockstep."""

from __future__ import annotations

import io
import os
import re
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emu import loader
from emu.accel.tcg import HOT_THRESHOLD
from emu.machine import Machine

LOAD = 0x7C00
EXIT = """
    mov al, 0
    out 0xf4, al
"""


def asm(src: str, addr: int = LOAD) -> bytes:
    return loader.assemble(src, "<test>", addr).data


#: DS = 0 and the #GP vector at ``gp`` (see N_OR_G)
SET_GP = """
    xor ax, ax
    mov ds, ax
    mov word ptr [13 * 4], gp
    mov word ptr [13 * 4 + 2], 0
"""
#: the end of a guest: print N and stop; ``gp``, a #GP handler: print G and stop
N_OR_G = """
    mov dx, 0x3f8
    mov al, 0x4e
    out dx, al
""" + EXIT + """
gp: mov dx, 0x3f8
    mov al, 0x47
    out dx, al
""" + EXIT


def run(accel, image, limit=5_000_000, setup=None, hot_threshold=None, **kw):
    m = Machine(accel=accel, **kw)
    if hot_threshold is not None:
        m.accel.hot_threshold = hot_threshold
    m.load_image(image)
    if setup is not None:
        setup(m)
        m.accel.state_changed()
    r = m.run(icount_limit=limit)
    return m, r


TIERS = {"eager": 1, "tiered": None, "hot2": 2}


def same(image, limit=5_000_000, setup=None, tier="eager", ram=0x20000, **kw):
    """Run on the interpreter and on the translator in each tier -- every block
    translated at first sight (hot_threshold=1: one function per block,
    chained), the default tiers (interpreted until hot, then a region), and
    regions formed after two runs (hot_threshold=2) -- and assert everything
    observable is identical.  Returns the translator machine of ``tier``."""
    mi, ri = run("interp", image, limit, setup, **kw)
    out = None
    for name, thr in TIERS.items():
        mt, rt = run("tcg", image, limit, setup, hot_threshold=thr, **kw)
        assert mt.serial_output() == mi.serial_output(), name
        assert (rt.reason, rt.status) == (ri.reason, ri.status), (name, rt.message, ri.message)
        assert rt.icount == ri.icount, name
        assert rt.stats.by_key == ri.stats.by_key, name
        si, stt = mi.cpu.snapshot(), mt.cpu.snapshot()
        assert stt == si, (name, {k: (si[k], stt[k]) for k in si if si[k] != stt[k]})
        assert mt.ram.read_bytes(0, ram) == mi.ram.read_bytes(0, ram), name
        if name == tier:
            out = mt, rt
    return out


INTLOOP = """
    mov bx, 0
outer:
    xor cx, cx
    xor ax, ax
l1: add ax, cx
    inc cx
    cmp cx, 5000
    jne l1
    inc bx
    cmp bx, 3
    jne outer
    mov dx, 0x3f8
    mov al, ah
    and al, 0x0f
    add al, 0x41
    out dx, al
""" + EXIT


def test_integer_loop():
    mt, r = same(asm(INTLOOP))
    ax = sum(range(5000)) & 0xFFFF
    assert mt.serial_output() == bytes([0x41 + ((ax >> 8) & 0xF)])
    assert r.status == 1
    s = mt.accel.stats()
    assert s["blocks_translated"] < 10 and s["chain_hits"] > 0


SIEVE = """
    xor ax, ax
    mov ds, ax
    mov di, 0x1000
    mov cx, 1000
fill:
    mov byte ptr [di], 1
    inc di
    loop fill
    mov si, 2
outer:
    mov ax, si
    mov bx, ax
    add bx, ax
    cmp byte ptr [si + 0x1000], 0
    je next
mark:
    cmp bx, 1000
    jae next
    mov byte ptr [bx + 0x1000], 0
    add bx, si
    jmp mark
next:
    inc si
    cmp si, 1000
    jb outer
    xor bx, bx
    xor cx, cx
    mov si, 2
count:
    mov al, byte ptr [si + 0x1000]
    add cl, al
    adc ch, 0
    inc si
    cmp si, 1000
    jb count
    mov dx, 0x3f8
    mov al, ch
    out dx, al
    mov al, cl
    out dx, al
""" + EXIT


def test_sieve():
    mt, _ = same(asm(SIEVE))
    n = sum(1 for k in range(2, 1000) if all(k % d for d in range(2, int(k ** 0.5) + 1)))
    assert mt.serial_output() == bytes([n >> 8, n & 0xFF])


CRC32 = """
    xor ax, ax
    mov ds, ax
    mov si, 0x7c00
    mov cx, 256
    mov eax, 0xffffffff
nextb:
    xor al, byte ptr [si]
    inc si
    mov dx, 8
bit:
    shr eax, 1
    jnc nox
    xor eax, 0xedb88320
nox:
    dec dx
    jnz bit
    loop nextb
    not eax
    mov dx, 0x3f8
    mov cx, 4
emit:
    out dx, al
    shr eax, 8
    loop emit
""" + EXIT


def test_crc32():
    image = asm(CRC32)
    mt, _ = same(image)
    crc = zlib.crc32((image + bytes(256))[:256])
    assert mt.serial_output() == crc.to_bytes(4, "little")


STRCOPY = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov si, msg
    mov di, 0x9000
    mov cx, 6
    cld
    rep movsb
    mov si, 0x9000
    mov cx, 6
    mov dx, 0x3f8
pr: mov al, byte ptr [si]
    out dx, al
    inc si
    loop pr
""" + EXIT + """
msg: .byte 0x63, 0x6f, 0x70, 0x69, 0x65, 0x64
"""


def test_string_copy_rep_movsb():
    mt, _ = same(asm(STRCOPY))
    assert mt.serial_output() == b"copied"


FIB = """
    mov ax, 15
    call fib
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
    jmp done
fib:
    cmp ax, 2
    jb leaf
    push ax
    dec ax
    call fib
    pop bx
    push ax
    mov ax, bx
    sub ax, 2
    call fib
    pop bx
    add ax, bx
leaf:
    ret
done:
""" + EXIT


def test_recursive_calls():
    mt, _ = same(asm(FIB))
    assert mt.serial_output() == (610).to_bytes(2, "little")


SMC_SAME_BLOCK = """
    xor ax, ax
    mov ds, ax
    mov byte ptr [patch + 1], 0x42
patch:
    mov al, 0x41
    mov dx, 0x3f8
    out dx, al
""" + EXIT


def test_self_modifying_code_in_the_running_block():
    mt, _ = same(asm(SMC_SAME_BLOCK))
    assert mt.serial_output() == b"B"          # the patched immediate, not the stale one
    assert mt.accel.stats()["invalidations"] >= 1


def _smc_loop(patch: str, jump: str, setup: str = "", after: str = "") -> str:
    """Six runs of a block that adds 1 to BL, entered by ``jump``; before the
    fourth, the store ``patch`` rewrites that 1 to 5, so BL ends at
    3 * 1 + 3 * 5 and is printed.  ``setup`` runs first; ``after`` follows
    the loop (before the exit)."""
    return f"""
    xor ax, ax
    mov ds, ax
    xor bx, bx
{setup}
    mov cx, 6
top:
    cmp cx, 3
    jne go
    {patch}
go:
    {jump}
back:
    loop top
    mov dx, 0x3f8
    mov al, bl
    out dx, al
{after}""" + EXIT


def _placed(image: bytes, addr: int, code: bytes) -> bytes:
    """``image`` (loaded at LOAD) with ``code`` at ``addr``, HLT between."""
    return image + b"\xf4" * (addr - LOAD - len(image)) + code


def _same_smc_loop(image, chained=True):
    mt, _ = same(image)
    assert mt.serial_output() == bytes([3 * 1 + 3 * 5])
    s = mt.accel.stats()
    assert s["invalidations"] >= 1
    assert not chained or s["chain_links"] > 0


SMC_CHAINED = _smc_loop("mov byte ptr [body + 2], 5", "jmp body", after="""
    jmp fin
body:
    add bl, 1
    jmp back
fin:
""")


def test_self_modifying_code_in_a_chained_block():
    _same_smc_loop(asm(SMC_CHAINED))


# SMC through the second page of an instruction that straddles a page
# boundary: the block at 0x7FFD (nop, nop, ``mov al, 1`` with its opcode at
# 0x7FFF and its immediate at 0x8000) is entered through a direct jump chained
# within page 7; after three runs the loop rewrites the immediate, a store
# into page 8 only, which must drop the block (it was decoded from both pages).
SMC_STRADDLE = _smc_loop("mov byte ptr [0x8000], 5", "jmp 0x7ffd", setup="    mov di, back")
STRADDLE_AT = 0x7FFD


def _smc_straddle_image():
    main = asm(SMC_STRADDLE)
    tail = asm("nop\nnop\nmov al, 1\nadd bl, al\njmp di", STRADDLE_AT)
    assert tail[2:4] == b"\xb0\x01"               # mov al, 1 at 0x7FFF..0x8000
    return _placed(main, STRADDLE_AT, tail)


def test_self_modifying_code_in_the_second_page_of_a_straddling_instruction():
    _same_smc_loop(_smc_straddle_image())


# SMC in a block reached through an indirect jump (``jmp si``): the block at
# 0x8100 is in another page than the jump, so the jumping block stays valid
# and its jump cache still names the old target after the store rewrites it.
SMC_INDIRECT = _smc_loop("mov byte ptr [0x8102], 5", "jmp si",
                         setup="    mov si, 0x8100\n    mov di, back")
INDIRECT_AT = 0x8100


def _smc_indirect_image():
    main = asm(SMC_INDIRECT)
    body = asm("add bl, 1\njmp di", INDIRECT_AT)
    assert body[:3] == b"\x80\xc3\x01"            # the immediate at 0x8102
    return _placed(main, INDIRECT_AT, body)


def test_self_modifying_code_in_a_block_reached_through_an_indirect_jump():
    _same_smc_loop(_smc_indirect_image(), chained=False)


# SMC onto a middle byte of a longer instruction: ``add bx, 0x0001`` with a
# 16-bit immediate (81 C3 01 00); the store rewrites its low byte (+2), the
# instruction's neither first nor last byte.
SMC_MIDDLE = _smc_loop("mov byte ptr [body + 2], 5", "jmp body", after="""
    jmp fin
body:
    .byte 0x81, 0xc3, 0x01, 0x00
    jmp back
fin:
""")


def test_self_modifying_code_onto_a_middle_byte_of_an_instruction():
    _same_smc_loop(asm(SMC_MIDDLE))


# A loop that keeps its variables next to itself, in the same 64-byte code
# granule (as a boot sector does): its stores are data, not code, and must
# neither drop its translation nor the interpreter's decoded instructions.
DATA_NEXT_TO_CODE = """
    xor ax, ax
    mov ds, ax
    mov cx, 2000
l:  mov ax, [var]
    add ax, cx
    mov [var], ax
    add byte ptr [cnt], 1
    loop l
    mov dx, 0x3f8
    mov al, byte ptr [var]
    out dx, al
    mov al, byte ptr [cnt]
    out dx, al
""" + EXIT + """
var: .word 0
cnt: .byte 0
"""


def test_stores_next_to_code_in_its_granule_keep_the_code():
    image = asm(DATA_NEXT_TO_CODE)
    dropped = []
    run("interp", image, setup=lambda m: m.ram.add_invalidation_listener(dropped.append))
    assert dropped == []
    total = sum(range(1, 2001)) & 0xFF
    for tier in TIERS:
        mt, _ = same(image, tier=tier)
        assert mt.serial_output() == bytes([total, 2000 & 0xFF])
        assert mt.accel.stats()["invalidations"] == 0, tier


# A loop that patches its own ADD's immediate through a constant address
# (83 C3 01: the byte at l + 2) half-way: a region computes such a store's
# code test once, at its entry, and the store must still find the code and
# drop it -- BX = 101 * 1 + 99 * 5.
SMC_CONSTANT_ADDRESS = """
    xor ax, ax
    mov ds, ax
    xor bx, bx
    mov cx, 200
l:  add bx, 1
    cmp cx, 100
    jne s
    mov byte ptr [l + 2], 5
s:  loop l
    mov dx, 0x3f8
    mov al, bl
    out dx, al
    mov al, bh
    out dx, al
""" + EXIT


def test_a_store_onto_code_at_a_constant_address_drops_it_on_every_tier():
    image = asm(SMC_CONSTANT_ADDRESS)
    assert image[image.index(bytes([0x83, 0xC3, 0x01])) + 2] == 1
    for tier in TIERS:
        mt, _ = same(image, tier=tier)
        assert mt.serial_output() == (101 + 99 * 5).to_bytes(2, "little"), tier
        assert mt.accel.stats()["invalidations"] >= 1, tier
    log = io.StringIO()
    m = Machine(accel="tcg", log=log, log_flags=("out_asm",))
    try:
        m.load_image(image)
        m.run(icount_limit=5_000_000)
    finally:
        m.close()
    # the store's code test was made at a region's entry (a local tested in the loop)
    assert re.search(r"^ +(c\d+) = CP\[h\d+ >> 6\] and CB\[h\d+\]$", log.getvalue(), re.M)


def _page_cross_image():
    """A loop whose body starts in one page and ends in the next."""
    head = asm("jmp 0x7ff4")
    body = asm("""
        xor ax, ax
        mov cx, 300
    l:  add ax, cx
        xor ax, 0x5a5a
        inc bx
        add dx, ax
        dec cx
        jnz l
        mov dx, 0x3f8
        out dx, al
    """ + EXIT, 0x7FF4)
    return _placed(head, 0x7FF4, body)


def test_loop_across_a_page_boundary():
    mt, _ = same(_page_cross_image())
    tbs = mt.accel.tb_cache.values()
    assert {tb.page for tb in tbs} >= {7, 8}
    # without paging a direct jump is chained across the page boundary too
    # (a store into either page unlinks it): every link is to a live block
    # of the cache, and the loop runs chained, never looked up again
    links = [(tb, nxt) for tb in tbs for nxt in tb.jmp if nxt is not None]
    assert {(tb.page, nxt.page) for tb, nxt in links} >= {(7, 8)}
    assert all(nxt.valid and mt.accel.tb_cache.get(nxt.key) is nxt for _, nxt in links)


FAULTS = """
    xor ax, ax
    mov ds, ax
    mov word ptr [0], de_handler
    mov word ptr [2], 0
    mov word ptr [13 * 4], gp_handler
    mov word ptr [13 * 4 + 2], 0
    mov ax, 100
    mov bl, 0
    cmp ax, 5
    div bl
    mov dx, 0x3f8
    mov al, 0x44
    out dx, al
    mov cx, 7
    sub cx, 9
    mov ax, word ptr [0xffff]
    inc cx
    mov al, 0x47
    out dx, al
    jmp fin
de_handler:
    push bp
    mov bp, sp
    mov si, [bp + 2]
    mov di, [bp + 6]
    add word ptr [bp + 2], 2
    pop bp
    iret
gp_handler:
    push bp
    mov bp, sp
    mov bx, [bp + 6]
    add word ptr [bp + 2], 3
    pop bp
    iret
fin:
""" + EXIT


def test_fault_in_the_middle_of_a_block():
    """#DE from DIV (a helper) and #GP from a word access at offset 0xFFFF (an
    inlined load that bails): the pushed IP and FLAGS are the interpreter's."""
    image = asm(FAULTS)
    mt, _ = same(image)
    assert mt.serial_output() == b"DG"
    div_ip = LOAD + image.index(b"\xf6\xf3")          # div bl
    assert mt.cpu.regs[6] == div_ip & 0xFFFF          # SI: the faulting IP was pushed
    assert mt.cpu.regs[3] & 0x8D5 == 0x91             # BX: FLAGS of SUB 7-9 (CF AF SF) at the #GP


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50, 1001, 4097])
def test_budget_is_exact(limit):
    same(asm(INTLOOP), limit=limit)


def test_one_insn_per_tb_and_single_step():
    image = asm(FIB)
    mi = Machine(accel="interp")
    mt = Machine(accel="tcg")
    for m in (mi, mt):
        m.load_image(image)
        m.accel.set_single_step(True)
    for _ in range(300):
        ri, rt = mi.run(), mt.run()
        assert (ri.reason, ri.message) == (rt.reason, rt.message)
        assert mt.cpu.snapshot() == mi.cpu.snapshot()
    assert all(tb.icount == 1 for tb in mt.accel.tb_cache.values())
    # stepped code is translated once it has been stepped hot_threshold times
    # (before that the interpreter steps it): both tiers ran, exactly
    c = mt.accel.stats()
    assert c["blocks_translated"] > 0 and c["cold_lookups"] > 0
    assert c["blocks_executed"] > 0 and c["interp_insns"] > 0


def test_breakpoint_stops_before_the_instruction():
    image = asm(INTLOOP)
    bp = LOAD + image.index(b"\x41")        # inc cx
    res = []
    for accel in ("interp", "tcg"):
        m = Machine(accel=accel)
        m.load_image(image)
        m.accel.breakpoints.add(bp)
        r1 = m.run()
        r2 = m.run()
        res.append((r1.reason, r1.icount, r2.reason, r2.icount, m.cpu.snapshot()))
    assert res[0] == res[1]
    assert res[0][0] == "debug"


def test_two_machines_in_one_process():
    a, b = Machine(accel="tcg"), Machine(accel="tcg")
    a.load_image(asm(SMC_SAME_BLOCK))
    b.load_image(asm(INTLOOP))
    ra, rb = a.run(icount_limit=10_000), b.run(icount_limit=1_000_000)
    assert a.serial_output() == b"B" and rb.status == 1 and ra.status == 1


def test_log_flags_and_translate_at():
    import io
    from emu.accel.tcg import translate_at
    log = io.StringIO()
    m = Machine(accel="tcg", log=log, log_flags=("in_asm", "op", "op_opt", "out_asm", "exec"))
    m.load_image(asm(INTLOOP))
    m.run(icount_limit=10_000)
    text = log.getvalue()
    for marker in ("IN:", "OP:", "OP after optimization", "OUT:", "Trace:"):
        assert marker in text
    # tiers: the start runs once, on the interpreter; the loop is translated
    # once hot (its code is logged then), and -d exec shows both
    assert f"Interp: [00007c00] (cold: run 1 of {HOT_THRESHOLD} before translation)" in text
    assert f"Interp: [00007c07] (cold: run {HOT_THRESHOLD - 1} of {HOT_THRESHOLD} before translation)" in text
    assert "def tb_7c00" not in text and ("def tb_7c07" in text or "def region_7c07" in text)
    assert "Trace: [00007c07]" in text
    d = translate_at(m, LOAD)
    assert set(d) == {"in_asm", "op", "op_opt", "out_asm"}
    assert "add ax, cx" in translate_at(m, LOAD + asm(INTLOOP).index(b"\x01\xc8"))["in_asm"]


@pytest.mark.parametrize("accel", ["tcg", "interp"])
def test_translate_at_without_logging_shows_every_stage(accel):
    """emu translate / info tb: all four texts also when no -d log is on;
    ``apart`` leaves the engine's block cache and RAM as they were."""
    from emu.accel.tcg import translate_at
    m = Machine(accel=accel)
    m.load_image(asm(INTLOOP))
    m.run(icount_limit=1_000)
    cached = dict(getattr(m.accel, "tb_cache", {}))
    ram = m.ram.read_bytes(0, 0x10000)
    at = LOAD + asm(INTLOOP).index(b"\x01\xc8")        # add ax, cx
    d = translate_at(m, at, apart=True)
    assert "add ax, cx" in d["in_asm"]
    assert "getr rax" in d["op"] and "getr rcx" in d["op"]   # the IR before optimisation
    assert d["op_opt"].strip() and d["out_asm"].startswith("def tb_")
    assert getattr(m.accel, "tb_cache", {}) == cached
    assert m.ram.read_bytes(0, 0x10000) == ram


def test_nochain_gives_the_same_result():
    import io
    m = Machine(accel="tcg", log=io.StringIO(), log_flags=("nochain",))
    m.load_image(asm(INTLOOP))
    r = m.run(icount_limit=1_000_000)
    assert r.status == 1 and m.accel.stats()["chain_hits"] == 0


# -- lockstep on random register-only programs -----------------------------------------
R16 = ("ax", "bx", "cx", "dx", "si", "di", "bp")
R8 = ("al", "ah", "bl", "bh", "cl", "ch", "dl", "dh")
ALU = ("add", "sub", "and", "or", "xor", "adc", "sbb", "cmp", "test")
CC = ("jo", "jno", "jb", "jae", "je", "jne", "jbe", "ja", "js", "jns", "jp", "jnp", "jl", "jge", "jle", "jg")


@st.composite
def insn_text(draw, label_ok):
    kind = draw(st.integers(0, 15))
    r16, r8 = st.sampled_from(R16), st.sampled_from(R8)
    imm16, imm8 = st.integers(0, 0xFFFF), st.integers(0, 0xFF)
    if kind == 0:
        return f"{draw(st.sampled_from(ALU))} {draw(r16)}, {draw(r16)}"
    if kind == 1:
        return f"{draw(st.sampled_from(ALU))} {draw(r16)}, {draw(imm16)}"
    if kind == 2:
        return f"{draw(st.sampled_from(ALU))} {draw(r8)}, {draw(st.one_of(r8, imm8.map(str)))}"
    if kind == 3:
        return f"mov {draw(r16)}, {draw(st.one_of(r16, imm16.map(str)))}"
    if kind == 4:
        return f"{draw(st.sampled_from(('inc', 'dec', 'neg', 'not')))} {draw(st.one_of(r16, r8))}"
    if kind == 5:
        op = draw(st.sampled_from(("shl", "shr", "sar", "rol", "ror")))
        return f"{op} {draw(st.one_of(r16, r8))}, {draw(st.integers(1, 15))}"
    if kind == 6 and label_ok:
        return f"{draw(st.sampled_from(CC))} L{draw(st.integers(1, 3))}"
    if kind == 7:
        return draw(st.sampled_from(("clc", "stc", "cmc", "lahf", "sahf", "cbw", "cwd", "cld")))
    if kind == 8:
        return f"xchg {draw(r16)}, {draw(r16)}"
    if kind == 9:
        return f"lea {draw(r16)}, [bx + si + {draw(st.integers(0, 0x7FFF))}]"
    if kind == 10:
        return f"set{draw(st.sampled_from(CC))[1:]} {draw(r8)}"
    if kind == 11:
        return f"cmov{draw(st.sampled_from(CC))[1:]} {draw(r16)}, {draw(r16)}"
    if kind == 12:
        return f"{draw(st.sampled_from(('movzx', 'movsx')))} {draw(r16)}, {draw(r8)}"
    if kind == 14:       # memory in a small data area (absolute addresses: DS is 0)
        mem = f"word ptr [{0x2000 + 2 * draw(st.integers(0, 7))}]"
        op = draw(st.sampled_from(("mov", "add", "sub", "adc", "cmp", "xor")))
        return f"{op} {mem}, {draw(r16)}" if draw(st.booleans()) else f"{op} {draw(r16)}, {mem}"
    if kind == 15:
        mem = f"byte ptr [{0x2010 + draw(st.integers(0, 7))}]"
        return f"{draw(st.sampled_from(('inc', 'dec', 'not', 'neg')))} {mem}"
    return f"{draw(st.sampled_from(('add', 'sub', 'xor')))} {draw(r16)}, {draw(st.integers(-128, 127))}"


@st.composite
def programs(draw):
    lines = []
    pending = []
    n = draw(st.integers(1, 40))
    for i in range(n):
        t = draw(insn_text(True))
        if t.split()[0] in CC:
            dist = int(t.split()[1][1:])
            label = f"F{i}"
            pending.append((i + dist, label))
            t = f"{t.split()[0]} {label}"
        lines.append(t)
        for j, lab in [p for p in pending if p[0] == i]:
            lines.append(f"{lab}:")
        pending = [p for p in pending if p[0] != i]
    lines += [f"{lab}:" for _, lab in pending]
    lines.append("hlt")
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8),
       st.integers(0, 0xFFF), st.integers(1, 60))
def test_lockstep_random_programs(src, regs, flags, cut):
    image = asm(src)

    def setup(m):
        for i, v in enumerate(regs[:7]):
            if i != 4:
                m.cpu.regs[i] = v
        m.cpu.rflags = (flags & 0x8D5) | 2

    same(image, setup=setup)                  # to the HLT
    same(image, limit=cut, setup=setup)       # and cut short at an arbitrary instruction


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8),
       st.integers(0, 0xFFF), st.integers(1, 900))
def test_lockstep_random_loops(src, regs, flags, cut):
    """The random programs as the body of a loop run 20 times, so their blocks
    get hot and form regions (flags live across blocks, blocks inlined along
    paths, loops peeled): still the interpreter's state, at the end and cut
    short anywhere."""
    body = src.rsplit("hlt", 1)[0]
    image = asm("mov word ptr [0x500], 20\ntop:\n" + body + "\ndec word ptr [0x500]\njnz top\nhlt")

    def setup(m):
        for i, v in enumerate(regs[:7]):
            if i != 4:
                m.cpu.regs[i] = v
        m.cpu.rflags = (flags & 0x8D5) | 2

    same(image, setup=setup)
    same(image, limit=cut, setup=setup)


def test_hot_loop_nest_runs_inside_one_region():
    mt, _ = same(asm(INTLOOP), tier="tiered")
    s = mt.accel.stats()
    assert s["regions_translated"] >= 1 and s["cold_lookups"] > 0
    # 15000 inner iterations, yet the dispatcher entered translated code only a few times
    assert s["blocks_executed"] < 10


def test_region_budget_is_exact():
    for limit in (1, 7, 100, 1001, 4567):
        mt, rt = same(asm(INTLOOP), limit=limit, tier="hot2")
        assert (rt.reason, rt.icount) == ("limit", limit)


STEP_REP = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov si, 0x7c00
    mov di, 0x9000
    mov cx, 5
    cld
    rep movsb
    mov cx, 3
l:  add ax, cx
    loop l
""" + EXIT


def test_single_step_with_one_insn_per_tb_is_exact():
    """-one-insn-per-tb stepping: one instruction per step, one REP iteration
    per step, the interpreter's state after every step."""
    image = asm(STEP_REP)
    mi, mt = Machine(accel="interp"), Machine(accel="tcg", one_insn_per_tb=True)
    mt.accel.hot_threshold = 1          # every step on translated code, from the first
    for m in (mi, mt):
        m.load_image(image)
        m.accel.set_single_step(True)
    cxs = []
    for _ in range(200):
        ri, rt = mi.run(), mt.run()
        assert (rt.reason, rt.icount) == (ri.reason, ri.icount)
        assert mt.cpu.snapshot() == mi.cpu.snapshot()
        if rt.reason != "debug":
            break
        assert rt.icount == 1
        cxs.append(mt.cpu.regs[1] & 0xFFFF)
    assert rt.reason == "debug-exit"
    assert cxs[6:12] == [5, 4, 3, 2, 1, 0]        # REP MOVSB: one iteration per step
    assert all(tb.icount == 1 for tb in mt.accel.tb_cache.values())
    assert mt.accel.stats()["blocks_translated"] > 0


REP_STRINGS = """
    xor ax, ax
    mov ds, ax
    mov ax, 0x1000
    mov es, ax
    cld
    mov di, 0x100
    mov cx, 300
    mov ax, 0x5aa5
    rep stosw
    mov si, 0x7c00
    mov di, 0x400
    mov cx, 129
    rep movsb
    std
    mov si, 0x7c7f
    mov di, 0x700
    mov cx, 64
    rep movsw
    mov di, 0x9ff
    mov cx, 33
    mov al, 0x77
    rep stosb
    cld
    mov ax, 0x1000
    mov ds, ax
    mov si, 0x400
    mov di, 0x401
    mov cx, 40
    rep movsb
    mov si, 0x100
    mov cx, 7
    rep lodsw
    mov di, 0xfff0
    mov cx, 0x20
    mov al, 0x33
    rep stosb
    mov di, 0xfff1
    mov cx, 0x20
    rep stosw
    mov dx, 0x3f8
    mov al, 0x4e
    out dx, al
""" + EXIT


def test_rep_string_runs_at_once_match_the_interpreter():
    image = asm(REP_STRINGS)
    gp = LOAD + len(image)                       # a #GP handler: print "G" and stop
    image += asm("mov dx, 0x3f8\nmov al, 0x47\nout dx, al\n" + EXIT, gp)

    def setup(m):
        m.ram.write(13 * 4, 2, gp & 0xFFFF)
        m.ram.write(13 * 4 + 2, 2, 0)
    mt, _ = same(image, setup=setup)
    assert mt.serial_output() == b"G"      # DI wraps for bytes; the word at 0xFFFF faults
    # the runs' 600-odd iterations ran in the translated blocks: the
    # interpreter ran only the STOSB whose DI wraps and the faulting STOSW
    assert mt.accel.stats()["interp_insns"] < 100
    assert mt.ram.read_bytes(0x10401, 40) == bytes([mt.ram.read_bytes(0x10400, 1)[0]]) * 40
    for limit in (9, 150, 333, 500, 700, 761, 790):    # budgets ending inside the runs
        same(image, limit=limit, setup=setup)


REP_COMPARES = """
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, 0x1000
    mov es, ax
    cld
    mov di, 0x100
    mov cx, 0x300
    mov al, 0x41
    rep stosb
    mov byte ptr es:[0x250], 0
    push es
    push ds
    pop es
    mov di, 0x8000
    mov cx, 0x300
    rep stosb
    mov byte ptr [0x8180], 0x42
    mov di, 0xa000
    mov cx, 0x100
    mov ax, 0x1234
    rep stosw
    mov byte ptr [0xa0c1], 0x41
    pop es
    mov bx, 0x9000
    mov di, 0x100
    xor al, al
    mov cx, 0xffff
    repne scasb
    call save
    mov di, 0x100
    mov al, 0x41
    mov cx, 0x400
    repe scasb
    call save
    mov di, 0x100
    xor al, al
    mov cx, 0x20
    repne scasb
    call save
    mov si, 0x8000
    mov di, 0x100
    mov cx, 0x300
    repe cmpsb
    call save
    mov si, 0x8000
    mov di, 0x100
    mov cx, 0x100
    repe cmpsw
    call save
    mov si, 0xa000
    mov di, 0x100
    mov cx, 0x100
    repne cmpsb
    call save
    mov si, 0xa000
    mov di, 0x100
    mov cx, 0x80
    repne cmpsw
    call save
    mov di, 0xfff0
    mov al, 0x99
    mov cx, 0x40
    repne scasb
    call save
    mov di, 0x100
    xor cx, cx
    repne scasb
    call save
    std
    mov di, 0x3ff
    xor al, al
    mov cx, 0x400
    repne scasb
    call save
    mov di, 0x24e
    mov ax, 0x4141
    mov cx, 0x200
    repe scasw
    call save
    mov si, 0x82fc
    mov di, 0x3fc
    mov cx, 0x100
    repe cmpsd
    call save
    mov si, 0x8010
    mov di, 0x110
    mov cx, 0x100
    repe cmpsb
    call save
    cld
    mov edi, 0x100
    mov ecx, 0xffffffff
    xor al, al
    .byte 0x67, 0xf2, 0xae
    call save
    mov esi, 0x8000
    mov edi, 0x100
    mov ecx, 0x1000
    .byte 0x67, 0xf3, 0xa6
    call save
    mov dx, 0x3f8
    mov al, 0x4e
    out dx, al
""" + EXIT + """
save:
    pushf
    mov [bx], cx
    mov [bx + 2], si
    mov [bx + 4], di
    pop word ptr [bx + 6]
    mov [bx + 8], ax
    add bx, 10
    ret
"""


def test_rep_compares_run_at_once_match_the_interpreter():
    """REPE/REPNE SCAS and CMPS of bytes, words and dwords, up and down, with
    16- and 32-bit addresses, ending on the condition, on the count, on a
    count of 0, and across an offset wrap (the element there is the
    interpreter's): rCX, rSI, rDI, the flags and AX after each, as on the
    interpreter, also with budgets ending inside the runs."""
    image = asm(REP_COMPARES)
    mt, _ = same(image)
    assert mt.serial_output() == b"N"
    # the compares ran at once in their blocks (of 5227 instructions, the
    # interpreter ran only the elements across the wraps and the ending)
    assert mt.accel.stats()["interp_insns"] < 100
    for limit in (50, 900, 1500, 2000, 2500, 4000):
        same(image, limit=limit)


def _compare_run(op, rep, size, a32, back, count, x_off, y_off, data, limit):
    """A guest copying ``data`` to ES:0x8000 and DS=ES:0xC000 (the X and Y
    runs, 0x41 mostly), then running one REP CMPS/SCAS from ``x_off`` (rSI)
    and ``y_off`` (rDI), which may run off the data and across 0xFFFF (a
    word there: #GP, whose handler prints G)."""
    code = {("CMPS", 1): "0xa6", ("CMPS", 2): "0xa7", ("SCAS", 1): "0xae", ("SCAS", 2): "0xaf"}
    prefix = ("0x67, " if a32 else "") + ("0x66, " if size == 4 else "") + hex(rep)
    wide = "e" if a32 else ""
    src = SET_GP + f"""
    mov ax, 0x1000
    mov es, ax
    cld
    mov si, data
    mov di, 0x8000
    mov cx, {len(data)}
    rep movsb
    mov si, data
    mov di, 0xc000
    mov cx, {len(data)}
    rep movsb
    mov byte ptr es:[0xc000 + {len(data) // 2}], 0x42
    mov ds, ax
    {"std" if back else "cld"}
    mov {wide}si, {x_off}
    mov {wide}di, {y_off}
    mov {wide}cx, {count}
    mov eax, 0x41414141
    .byte {prefix}, {code[op, min(size, 2)]}
""" + N_OR_G + "data: .byte " + ", ".join(map(str, data))
    return same(asm(src), limit=limit)


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from(("CMPS", "SCAS")), st.sampled_from((0xF2, 0xF3)), st.sampled_from((1, 2, 4)),
       st.booleans(), st.booleans(), st.integers(0, 0x500),
       st.sampled_from((0x8000, 0x8101, 0x81ff, 0xc000, 0xc0ff, 0xfff0, 0xfffe, 0x10)),
       st.sampled_from((0xc000, 0xc001, 0xc1fe, 0x8000, 0xfff8, 0xffff, 0x4)),
       st.lists(st.sampled_from((0x41, 0x41, 0x41, 0x42, 0x00)), min_size=2, max_size=0x200),
       st.sampled_from((5_000_000, 40, 300)))
def test_rep_compares_random_match_the_interpreter(op, rep, size, a32, back, count, x_off, y_off,
                                                    data, limit):
    """REPE/REPNE CMPS/SCAS of each size, up or down, 16- or 32-bit
    addresses, any count, from offsets in the data, off it and at the top of
    the segment, under budgets ending inside the run: the translator's runs
    at once leave what the interpreter's iterations leave."""
    _compare_run(op, rep, size, a32, back, count, x_off, y_off, data, limit)


OVERLAPS = """
    mov ax, 0x1000
    mov ds, ax
    mov es, ax
    xor bx, bx
    mov cx, 0x1000
fill:
    mov al, bl
    rol al, 3
    xor al, bh
    mov [bx], al
    inc bx
    loop fill
    cld
    mov si, 0x0
    mov di, 0x1
    mov cx, 100
    rep movsb
    cld
    mov si, 0x200
    mov di, 0x203
    mov cx, 50
    rep movsw
    cld
    mov si, 0x300
    mov di, 0x301
    mov cx, 20
    rep movsw
    cld
    mov si, 0x400
    mov di, 0x404
    mov cx, 30
    .byte 0xf3, 0x66, 0xa5
    cld
    mov si, 0x500
    mov di, 0x506
    mov cx, 30
    .byte 0xf3, 0x66, 0xa5
    std
    mov si, 0x6ff
    mov di, 0x6fe
    mov cx, 100
    rep movsb
    std
    mov si, 0x7fe
    mov di, 0x7fc
    mov cx, 60
    rep movsw
    std
    mov si, 0x8f0
    mov di, 0x8eb
    mov cx, 40
    .byte 0xf3, 0x66, 0xa5
    std
    mov si, 0x9fe
    mov di, 0x9fd
    mov cx, 30
    rep movsw
    cld
    mov si, 0xa00
    mov di, 0xa07
    mov cx, 511
    rep movsb
    mov dx, 0x3f8
    mov al, 0x4e
    out dx, al
""" + EXIT


def test_overlapping_rep_movs_runs_at_once_match_the_interpreter():
    """REP MOVS whose destination overlaps its source the way the copy sees
    (up, or down after STD), bytes, words and dwords, at distances of an
    element or more (the pattern a byte-by-byte copy repeats, made at once)
    and of less than an element (the interpreter's, element by element):
    RAM and registers as on the interpreter, also under budgets ending
    inside the runs."""
    image = asm(OVERLAPS)
    mt, _ = same(image, ram=0x20000)
    assert mt.serial_output() == b"N"
    # every run at a distance of an element or more (921 iterations) ran at
    # once in its block: the interpreter ran the two at less than an element
    # (50 iterations) and the ending
    assert mt.accel.stats()["interp_insns"] < 60
    for limit in (24650, 24800, 25000, 25300):
        same(image, limit=limit)


SMC_REP = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    cld
    mov si, new
    mov di, patch
    mov cx, 2
    rep movsb
patch:
    mov al, 0x41
    mov dx, 0x3f8
    out dx, al
""" + EXIT + """
new: .byte 0xb0, 0x42
"""


def test_rep_movs_into_code_takes_the_slow_path():
    mt, _ = same(asm(SMC_REP))
    assert mt.serial_output() == b"B"


SEG_GUARD = SET_GP + """
    mov si, 0x7000
    xor bx, bx
l:  mov al, byte ptr [si]
    add bl, al
    inc si
    cmp si, 0x9000
    jb l
""" + N_OR_G


def test_region_segment_guard_when_a_limit_shrinks():
    """A hot region assumes DS's 64 KiB are RAM with limit 0xFFFF; the limit
    then drops to 0x7FFF under it (as a descriptor load could do): the
    region must notice at its next entry, be translated again, and fault
    where the interpreter faults."""
    from emu.isa.x86.state import DS
    image = asm(SEG_GUARD)
    res = []
    for accel in ("interp", "tcg"):
        m = Machine(accel=accel)
        m.load_image(image)
        r1 = m.run(icount_limit=3000)
        m.cpu.segs[DS].limit = 0x7FFF
        m.accel.state_changed()
        r2 = m.run(icount_limit=1_000_000)
        res.append((r1.icount, r2.reason, r2.icount, m.serial_output(), m.cpu.snapshot()))
        if accel == "tcg":
            assert m.accel.stats()["guard_fails"] == 1
    assert res[0] == res[1]
    assert res[0][3] == b"G"


# -- paging: translated code keyed by linear address, data through the TLB ----------------
def _guest(name):
    from emu.loader import load_file
    here = os.path.dirname(os.path.dirname(__file__))
    path = os.path.join(here, "guests", "x86", name + ".S")
    if not os.path.exists(path):
        path = os.path.join(os.path.dirname(here), "emu", "guests", name + ".S")
    return load_file(path)


@pytest.mark.parametrize("guest", ["paging", "ring3_gp", "long_boot", "ext386"])
def test_paged_and_protected_guests_translated(guest):
    """Every block translated at first sight, as regions, or after two runs,
    with paging on where the guest turns it on: output, icount, exits, state
    and all of RAM the guests use -- page tables with their accessed and
    dirty bits included -- as on the interpreter."""
    mt, _ = same(_guest(guest).data, ram=0x110000)
    assert mt.accel.stats()["blocks_translated"] > 0


def test_long_mode_loop_runs_translated():
    """lm_loop (CPL 3, 64-bit, 4-level paging), with fewer iterations."""
    img = _guest("lm_loop")
    data = bytearray(img.data)
    user = img.symbols["user"] - 0x7C00
    assert data[user:user + 5] == bytes([0xB9, 0, 0, 2, 0])        # mov ecx, 0x20000
    data[user + 1:user + 5] = (0x900).to_bytes(4, "little")
    mt, _ = same(bytes(data), tier="tiered", ram=0x100000)
    s = mt.accel.stats()
    assert s["regions_translated"] >= 1 and s["interp_insns"] < 2000


PAGED_REMAP = """
; 32-bit paging; linear 0x400000 runs code from physical 0x30000, also
; mapped writable at 0x401000.  A hot loop calls it; the code is then
; rewritten through the other mapping (SMC by another linear address),
; the page remapped to physical 0x31000 (INVLPG), and back with a CR3
; reload: every call must run what the mapping says at that moment.
; A data loop fills a page through the TLB (dirty bit), and a user-mode
; style check is left to the other guests.
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp far 0x08:pm32

.code32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x90000
    mov edi, 0x20000
    mov ecx, 0xc00
    xor eax, eax
    cld
    rep stosd
    mov dword ptr [0x20000], 0x21003
    mov dword ptr [0x20004], 0x22003
    mov edi, 0x21000
    mov eax, 3
fill:
    stosd
    add eax, 0x1000
    cmp edi, 0x22000
    jb fill
    mov dword ptr [0x22000], 0x30003       ; 0x400000 -> 0x30000
    mov dword ptr [0x22004], 0x30003       ; 0x401000 -> 0x30000 (alias)
    mov dword ptr [0x22008], 0x32003       ; 0x402000 -> 0x32000 (data)
    mov dword ptr [0x30000], 0x000041b8    ; mov eax, 0x41 ; ret
    mov dword ptr [0x30004], 0x0000c300
    mov dword ptr [0x31000], 0x000042b8    ; mov eax, 0x42 ; ret
    mov dword ptr [0x31004], 0x0000c300
    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    xor ebx, ebx
    call calls
    mov byte ptr [0x401001], 0x43          ; through the alias
    call calls
    mov dword ptr [0x22000], 0x31003       ; remap the code page
    invlpg [0x400000]
    call calls
    mov dword ptr [0x22000], 0x30003
    mov eax, 0x20000
    mov cr3, eax
    call calls
    mov ecx, 0x400
data:
    mov dword ptr [0x402000 + ecx * 4 - 4], ecx
    add ebx, [0x402000 + ecx * 4 - 4]
    dec ecx
    jnz data
    mov eax, ebx
    mov dx, 0x3f8
    out dx, al
    shr eax, 8
    out dx, al
    mov al, 0
    out 0xf4, al
    hlt

calls:
    mov ecx, 0x40
again:
    mov eax, 0x400000
    call eax
    mov dx, 0x3f8
    cmp ecx, 1
    jne quiet
    out dx, al
quiet:
    add ebx, eax
    dec ecx
    jnz again
    ret

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00
    dd 0x0000ffff, 0x00cf9300
gdt_desc:
    dw 3 * 8 - 1
    dd gdt
"""


def test_paged_code_follows_its_mapping():
    from emu.loader import assemble
    image = assemble(PAGED_REMAP, "paged_remap.S").data
    mt, _ = same(image, ram=0x40000)
    out = mt.serial_output()
    total = 0x40 * (0x41 + 0x43 + 0x42 + 0x43) + sum(range(0x401))
    assert out == b"ACBC" + bytes([total & 0xFF, (total >> 8) & 0xFF])
    for limit in (700, 3000, 9000):
        same(image, limit=limit, ram=0x40000)
    s = mt.accel.stats()
    assert s["invalidations"] >= 1


SMC_PEELED = """
    xor ax, ax
    mov ds, ax
    mov al, 0x42
    call patchme
    mov bl, al
    mov di, buf
l:  mov byte ptr [di], 0x90
    inc di
    cmp di, patchme + 2
    jb l
    mov al, 0x43
    call patchme
    mov dx, 0x3f8
    out dx, al
    mov al, bl
    out dx, al
""" + EXIT + """
buf: .byte """ + ", ".join(["0"] * 150) + """
patchme:
    mov al, 0x41
    ret
"""


def test_store_loop_running_into_code():
    """A hot store loop (peeled: it can leave at its store before its first
    flag record) fills a buffer and then runs on into code that has run: its
    stores bail to the interpreter there, which drops the code; the patched
    routine runs as patched -- at every budget."""
    image = asm(SMC_PEELED)
    mt, _ = same(image)
    assert mt.serial_output() == b"CA"
    assert mt.accel.stats()["invalidations"] >= 1
    for limit in (40, 111, 300, 455, 460):
        same(image, limit=limit)


# -- the same guests on unicorn and KVM ------------------------------------------------------
# The translator's hard cases are guest programs, so every engine must run them
# alike: code patched inside the running block and inside an already-chained
# block, a loop across a page boundary, faults in the middle of a block (#DE
# from a helper, #GP from an inlined word load at offset 0xFFFF), REP MOVS into
# code, a store loop that runs into code.  Compared with the interpreter: the
# output, the exit, every register and RAM (KVM cannot count instructions
# outside single-stepping, so the count is compared on unicorn only).

# #DE in the middle of blocks, after flag-setting instructions: the handler
# logs the pushed IP and FLAGS at 0x600 (compared as RAM) and steps over DIV
DIV_FAULTS = """
    xor ax, ax
    mov ds, ax
    mov word ptr [0], de_handler
    mov word ptr [2], 0
    mov di, 0x600
    mov ax, 100
    mov bl, 0
    cmp ax, 5
    div bl
    mov cx, 7
    sub cx, 9
    mov ax, 0x300
    mov bl, 2
    div bl
    add cx, 0x7fff
    xor ax, ax
    div ax
    mov dx, 0x3f8
    mov al, 0x44
    out dx, al
    jmp fin
de_handler:
    push bp
    mov bp, sp
    mov ax, [bp + 2]
    mov [di], ax
    mov ax, [bp + 6]
    mov [di + 2], ax
    add di, 4
    add word ptr [bp + 2], 2
    pop bp
    iret
fin:
""" + EXIT

ENGINE_GUESTS = {
    "smc_same_block": lambda: asm(SMC_SAME_BLOCK),
    "smc_chained": lambda: asm(SMC_CHAINED),
    "page_cross": _page_cross_image,
    "faults": lambda: asm(FAULTS),
    "div_faults": lambda: asm(DIV_FAULTS),
    "smc_rep": lambda: asm(SMC_REP),
    "smc_peeled": lambda: asm(SMC_PEELED),
    "smc_straddle": _smc_straddle_image,
    "smc_indirect": _smc_indirect_image,
}

# QEMU's TCG (so unicorn) checks no segment limit in real mode: the word load
# at DS:0xFFFF reads on past the segment instead of raising #GP (the SDM,
# Vol. 3 §20.1.1, and KVM here raise it)
ENGINE_XFAIL = {("faults", "unicorn"): "unicorn: no #GP for a word at offset 0xFFFF in real mode"}


@pytest.mark.parametrize("accel", ["tcg", "unicorn", "kvm"])
@pytest.mark.parametrize("guest", sorted(ENGINE_GUESTS))
def test_translator_guests_on_every_engine(guest, accel, request):
    why = ENGINE_XFAIL.get((guest, accel))
    if why:
        request.applymarker(pytest.mark.xfail(reason=why, strict=True))
    from emu.cli import accel_available
    ok, why = accel_available(accel)
    if not ok:
        if accel == "kvm" and not os.path.exists("/dev/kvm"):
            pytest.skip("no /dev/kvm on this machine")
        pytest.fail(f"engine {accel} unavailable: {why}")
    image = ENGINE_GUESTS[guest]()
    mi, ri = run("interp", image)
    mx, rx = run(accel, image)
    try:
        mx.accel.sync_state()
        assert mx.serial_output() == mi.serial_output()
        assert (rx.reason, rx.status) == (ri.reason, ri.status), (rx.message, ri.message)
        if mx.accel.exact_icount:
            assert rx.icount == ri.icount
        si, sx = mi.cpu.snapshot(), mx.cpu.snapshot()
        assert sx == si, {k: (hex(si[k]), hex(sx[k])) for k in si
                          if si[k] != sx[k] and isinstance(si[k], int)}
        assert mx.ram.read_bytes(0, 0x20000) == mi.ram.read_bytes(0, 0x20000)
    finally:
        mi.close()
        mx.close()


PLAIN_STRINGS_DOWN = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov si, 0x7c40
    mov di, 0x9000
    mov cx, 40
    std
down:
    add al, 3                   ; a lazy ADD record when DF is read
    lodsb
    add al, [si + 5]
    stosb
    movsb
    loop down
    cld
""" + EXIT


def test_plain_string_instructions_step_down_after_std():
    """LODSB/STOSB/MOVSB without REP, translated inline, read DF from under
    a lazy flag record (``get_df``): the pointers step down as on the
    interpreter."""
    same(asm(PLAIN_STRINGS_DOWN))


SHORT_REPS = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    cld
    mov bx, 300
again:
    mov si, 0x4000
    mov di, 0x5000
    add di, bx
    mov cx, 8
    rep movsb
    jmp first
first:
    rep stosb                  ; CX = 0: retires alone
    mov cx, 3
    rep stosw
    dec bx
    jnz again
""" + N_OR_G


@pytest.mark.parametrize("tier", ["eager", "tiered"])
def test_a_short_rep_in_a_loop_runs_in_its_block(tier):
    """A short REP in a loop runs at once in its translated block, which
    goes on after it: no exit and no look-up each iteration (a REP first in
    its block included, and one whose count is 0)."""
    mt, _ = same(asm(SET_GP + SHORT_REPS), tier=tier)
    assert mt.serial_output() == b"N"
    stats = mt.accel.stats()
    # of 6014: the cold start (the loop's first HOT_THRESHOLD passes, 7
    # instructions each), the ending
    assert stats["interp_insns"] < 8 * HOT_THRESHOLD + 20
    assert stats["lookups"] < 300
    assert stats["string_fast_insns"] == 0      # no REP left its block


LOOPED_REPS = """
    xor ax, ax
    mov ds, ax
    mov ax, 0x1000
    mov es, ax
    mov bx, 120
again:
    cld
    mov si, 0x7c00
    mov di, bx
    mov cx, bx
    and cx, 15
    rep movsb                   ; 0..15 bytes, DS -> ES
    mov cx, bx
    and cx, 3
    .byte 0x67, 0xf3, 0xa4      ; addr32 rep movsb: ECX, ESI, EDI
    mov di, 0x800
    mov cx, 5
    mov ax, bx
    rep stosw
    std
    mov di, 0x80f
    mov cx, 4
    rep stosb                   ; down
    cld
    mov di, 0x7c00
    mov cx, 0xffff
    mov si, bx
    and si, 15
    mov al, [si + 0x7c00]       ; found within 16 bytes
    push es
    push ds
    pop es
    repne scasb                 ; a short search under a large count
    pop es
    mov si, 0x800
    mov di, 0x800
    mov cx, 8
    push ds
    push es
    pop ds
    repe cmpsb                  ; equal all along: ends on the count
    pop ds
    mov si, 0x7c00
    mov cx, 3
    rep lodsb
    dec bx
    jnz again
""" + N_OR_G


def test_reps_in_a_loop_count_every_iteration_under_any_budget():
    """Short REPs of every kind in a loop, run in their region: each
    iteration counts as one instruction, so a budget ending inside a run
    (the run leaves its block for the slow path, which stops it there) or
    between runs stops exactly where the interpreter stops -- RAM,
    registers and flags as on the interpreter in every tier."""
    image = asm(SET_GP + LOOPED_REPS)
    mt, rt = same(image, tier="hot2")
    assert mt.serial_output() == b"N"
    assert mt.accel.stats()["interp_insns"] < rt.icount // 10
    for limit in range(2000, 2200, 23):
        same(image, limit=limit, tier="hot2")


UPWARD_EDGES = """
    mov ax, 0x1000
    mov es, ax
    mov bx, 96
again:
    cld
    mov si, 0x7c00              ; to the end of ES: inside, at, past its last byte
    add si, bx
    mov di, bx
    and di, 15
    add di, 0xfff0
    mov cx, bx
    and cx, 15
    inc cx
    rep movsb
    push es
    push ds
    pop es
    mov si, 0x6040              ; overlapping by 0..3 bytes the fill below wrote
    mov di, bx
    and di, 3
    add di, si
    mov cx, 9
    rep movsb
    mov di, bx                  ; a fill across a 64-byte granule
    and di, 7
    add di, 0x603c
    mov cx, bx
    and cx, 15
    mov ax, bx
    rep stosw
    mov si, 0x7c00              ; doublewords
    mov di, 0x6100
    mov cx, bx
    and cx, 7
    .byte 0x66, 0xf3, 0xa5      ; rep movsd
    mov di, scratch             ; bytes beside the code, in its granule
    mov cx, 12
    mov al, bl
    rep stosb
    pop es
    dec bx
    jnz again
""" + N_OR_G + """
scratch:
    .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
"""


def test_short_upward_reps_at_their_edges_match_the_interpreter():
    """Short REP MOVS/STOS stepping up in a loop, in every tier: a copy to
    the end of ES's 64 KiB (inside, at its last byte, wrapping past it), a
    copy overlapping its source by 0..3 bytes, a fill across a 64-byte
    granule, doublewords, and a fill beside the code in its granule -- RAM,
    registers and flags as the interpreter leaves them, and the same under
    budgets ending inside the runs."""
    image = asm(SET_GP + UPWARD_EDGES)
    mt, rt = same(image, tier="hot2")
    assert mt.serial_output() == b"N"
    assert mt.accel.stats()["interp_insns"] < rt.icount // 4     # the wrapping runs are its
    for limit in range(1500, 1700, 29):
        same(image, limit=limit, tier="hot2")
