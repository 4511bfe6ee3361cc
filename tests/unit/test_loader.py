"""The assembly loader: includes, far jumps by code size, and where errors
and line-map entries point.  Expected encodings are written from the SDM
(JMP ptr16:16 is EA iw iw, JMP ptr16:32 is EA id iw; Vol. 2A "JMP")."""

import os

import pytest

from emu.loader import LIBRARY, ImageError, assemble, load_file


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_far_jump_width_follows_code_size():
    img = assemble("jmp far 0x08:0x1234\n.code32\njmp far 0x18:0x12345678\n", base=0)
    assert img.data == bytes([0xEA, 0x34, 0x12, 0x08, 0x00,
                              0xEA, 0x78, 0x56, 0x34, 0x12, 0x18, 0x00])


def test_far_call_in_32_bit_code():
    img = assemble(".code32\ncall far 0x10:0x100\n", base=0)
    assert img.data == bytes([0x9A, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00])


def test_far_jump_in_64_bit_code_is_an_error():
    with pytest.raises(ImageError) as e:
        assemble("nop\n.code64\njmp far 0x08:0x10\n", name="g.S")
    msg = str(e.value)
    assert msg.startswith("g.S:3: ") and "64-bit" in msg and "\n" not in msg


def test_include_next_to_the_source(tmp_path):
    write(tmp_path, "lib.inc", "helper:\n    inc ax\n    ret\n")
    main = write(tmp_path, "main.S", "    call helper\n    hlt\n.include \"lib.inc\"\n")
    img = load_file(main, base=0x7C00)
    # call rel16 (E8 cw) to 0x7C04, HLT, INC AX (40), RET (C3)
    assert img.data == bytes([0xE8, 0x01, 0x00, 0xF4, 0x40, 0xC3])
    assert img.symbols["helper"] == 0x7C04
    inc = os.path.join(str(tmp_path), "lib.inc")
    assert img.lines[0x7C04] == (inc, 2)
    assert img.lines[0x7C00] == (main, 1)
    assert img.source_line(img.lines[0x7C05]).strip() == "ret"
    assert img.source_line(img.lines[0x7C03]).strip() == "hlt"


def test_nasm_spelling_and_nested_includes(tmp_path):
    write(tmp_path, "inner.inc", "db 0x11\n")
    write(tmp_path, "outer.inc", "db 0x22\n%include \"inner.inc\"\ndb 0x33\n")
    main = write(tmp_path, "main.S", "db 0x44\n.include \"outer.inc\"   ; the table\ndb 0x55\n")
    assert load_file(main).data == bytes([0x44, 0x22, 0x11, 0x33, 0x55])


def test_include_from_the_guest_library(tmp_path):
    assert os.path.isfile(os.path.join(LIBRARY, "serial32.inc"))
    main = write(tmp_path, "main.S", ".code32\n    call puts\n    hlt\n.include \"serial32.inc\"\n")
    img = load_file(main)
    assert "puts" in img.symbols and "puthex" in img.symbols
    # puts starts with PUSH EAX (50), PUSH EDX (52), MOV DX, 0x3F8 (66 BA F8 03)
    at = img.symbols["puts"] - img.base
    assert img.data[at:at + 6] == bytes([0x50, 0x52, 0x66, 0xBA, 0xF8, 0x03])


def test_missing_include_is_one_line(tmp_path):
    main = write(tmp_path, "main.S", "nop\n.include \"nowhere.inc\"\n")
    with pytest.raises(ImageError) as e:
        load_file(main)
    msg = str(e.value)
    assert msg.startswith(f"{main}:2: cannot include 'nowhere.inc': no such file")
    assert "\n" not in msg


def test_include_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.inc", ".include \"b.inc\"\n")
    write(tmp_path, "b.inc", "nop\n.include \"a.inc\"\n")
    main = write(tmp_path, "main.S", ".include \"a.inc\"\n")
    with pytest.raises(ImageError) as e:
        load_file(main)
    assert "includes itself" in str(e.value)
    assert str(e.value).startswith(os.path.join(str(tmp_path), "b.inc") + ":2:")


def test_error_inside_an_include_names_the_included_file(tmp_path):
    write(tmp_path, "bad.inc", "nop\n\n    movx ax, 1\n")
    main = write(tmp_path, "main.S", "nop\nnop\n.include \"bad.inc\"\n")
    with pytest.raises(ImageError) as e:
        load_file(main)
    msg = str(e.value)
    assert msg.startswith(os.path.join(str(tmp_path), "bad.inc") + ":3: "), msg
    assert "movx" in msg


def test_error_after_an_include_keeps_the_main_line_number(tmp_path):
    write(tmp_path, "ok.inc", "nop\nnop\nnop\nnop\n")
    main = write(tmp_path, "main.S", ".include \"ok.inc\"\nnop\n    bogus\n")
    with pytest.raises(ImageError) as e:
        load_file(main)
    assert str(e.value).startswith(f"{main}:3: ")


# -- 16-bit code: keystone adds an operand-size prefix (66) to CALL rel, RET,
# PUSH imm and long JMP/Jcc there; the loader writes the 16-bit encodings ----
def test_16_bit_call_and_returns():
    img = assemble("start: call f\n    ret\nf:  ret 4\n    retf\n    retf 2\n", base=0x7C00)
    # CALL rel16 (E8 cw) to 0x7C04; RET (C3); RET imm16 (C2 iw); RETF (CB); RETF imm16 (CA iw)
    assert img.data == bytes([0xE8, 0x01, 0x00, 0xC3, 0xC2, 0x04, 0x00, 0xCB, 0xCA, 0x02, 0x00])
    assert img.symbols == {"start": 0x7C00, "f": 0x7C04}


def test_16_bit_call_to_a_number():
    img = assemble("nop\ncall 0x7d00\n", base=0x7C00)
    assert img.data == bytes([0x90, 0xE8, 0xFC, 0x00])        # 0x7C04 + 0xFC = 0x7D00


def test_16_bit_push_immediate():
    img = assemble("x: push 5\npush -1\npush 0x1234\npush x\n", base=0x7C00)
    assert img.data == bytes([0x6A, 0x05, 0x6A, 0xFF, 0x68, 0x34, 0x12, 0x68, 0x00, 0x7C])


def test_16_bit_long_branches_are_near_rel16():
    src = "top: jmp far_\n    je far_\n    .fill 0x100, 1, 0x90\nfar_: jne top\n    jmp top\n"
    img = assemble(src, base=0x7C00)
    # JMP rel16 E9 cw, Jcc rel16 0F 8x cw (no 66 prefix, no rel32)
    assert img.data[:7] == bytes([0xE9, 0x04, 0x01, 0x0F, 0x84, 0x00, 0x01])
    at = img.symbols["far_"] - 0x7C00
    assert at == 7 + 0x100
    assert img.data[at:] == bytes([0x0F, 0x85, 0xF5, 0xFE, 0xE9, 0xF2, 0xFE])  # -0x10B, -0x10E


def test_32_bit_code_keeps_32_bit_forms():
    img = assemble(".code32\ncall f\nf: ret\npush 0x1234\n", base=0)
    assert img.data == bytes([0xE8, 0x00, 0x00, 0x00, 0x00, 0xC3, 0x68, 0x34, 0x12, 0x00, 0x00])


def test_a_16_bit_call_pushes_two_bytes():
    """Run it: the callee sees its return address at [SP] as a word."""
    from emu.machine import Machine
    img = assemble("    mov sp, 0x7000\n    call f\nback: hlt\n"
                   "f:  mov bp, sp\n    mov ax, [bp]\n    mov bx, sp\n    ret\n")
    m = Machine(accel="interp")
    m.load_image(img.data, "t")
    r = m.run(icount_limit=100)
    m.accel.sync_state()
    regs = list(m.cpu.regs)
    m.close()
    assert r.reason == "halt", r
    assert regs[0] & 0xFFFF == img.symbols["back"]     # AX: the word at [SP] in the callee
    assert regs[3] & 0xFFFF == 0x7000 - 2              # BX: SP in the callee
    assert regs[4] & 0xFFFF == 0x7000                  # SP after RET


# -- decimal literals: keystone's radix is uninitialised memory (and 16 after
# any ks_option call), so the loader writes every decimal literal in hex ------
@pytest.fixture
def keystone_in_radix_16(monkeypatch):
    """Every Ks the loader makes has had an option set, which puts
    keystone's lexer into radix 16: what an unlucky process sees."""
    import keystone
    real = keystone.Ks

    def ks_radix16(arch, mode):
        ks = real(arch, mode)
        ks.syntax = keystone.KS_OPT_SYNTAX_INTEL
        return ks
    monkeypatch.setattr(keystone, "Ks", ks_radix16)
    probe = ks_radix16(keystone.KS_ARCH_X86, keystone.KS_MODE_16)
    assert bytes(probe.asm("mov al, 10")[0]) == bytes([0xB0, 0x10])   # the trap is armed


def test_decimal_literals_mean_decimal_whatever_keystones_radix(keystone_in_radix_16):
    img = assemble('mov al, 100\nmov ax, 1000\nmov bx, [bp+12]\n.fill 3, 1, 9\n'
                   'msg: .asciz "count 100"\nmov cl, 0x10\nmov dl, 010\n', base=0)
    assert img.data == (bytes([0xB0, 100, 0xB8, 0xE8, 0x03, 0x8B, 0x5E, 12, 9, 9, 9])
                        + b"count 100\0" + bytes([0xB1, 0x10, 0xB2, 8]))


def test_the_guests_assemble_the_same_whatever_keystones_radix(monkeypatch):
    """Each shipped guest assembled in a process whose keystone reads digits
    in radix 16 gives the same bytes as here."""
    import glob
    import keystone
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = sorted(glob.glob(os.path.join(root, "emu", "guests", "*.S"))
                   + glob.glob(os.path.join(root, "tests", "guests", "x86", "*.S")))
    assert len(paths) >= 10
    plain = {p: load_file(p).data for p in paths}
    real = keystone.Ks

    def ks_radix16(arch, mode):
        ks = real(arch, mode)
        ks.syntax = keystone.KS_OPT_SYNTAX_INTEL
        return ks
    monkeypatch.setattr(keystone, "Ks", ks_radix16)
    for p in paths:
        assert load_file(p).data == plain[p], p
