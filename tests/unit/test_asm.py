"""The assemblers behind guest sources (emu/asm): NASM sources judged by
``nasm -f bin`` itself, GNU as sources by the SDM's encodings, the keystone
dialect and its NASM front end against nasm, and the guarantees every path
gives: errors name the file and line, an empty image is an error, an
assembler never hangs kasou, 16-bit code never gets an address-size
prefix on a label operand."""

import glob
import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from emu.asm import base as asm_base
from emu.asm import dialect
from emu.loader import ImageError, assemble, load_file
from tests.conftest import REPO, sh, tool

CORPUS = os.path.join(REPO, "tests", "asm", "nasm")
PROGRAMS = sorted(glob.glob(os.path.join(CORPUS, "*.asm")))


def nasm_bytes(path, tmp_path):
    """The judge: ``nasm -f bin`` run directly (includes next to the file)."""
    out = tmp_path / (os.path.basename(path) + ".bin")
    sh(tool("nasm"), "-f", "bin", "-I", os.path.dirname(path) + os.sep, "-o", str(out), path)
    return out.read_bytes()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def one_line_error(excinfo, where):
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.startswith(where), msg
    return msg


# -- the NASM corpus ------------------------------------------------------------------------
def test_the_corpus_is_large_enough():
    assert len(PROGRAMS) >= 25


@pytest.mark.parametrize("path", PROGRAMS, ids=os.path.basename)
def test_nasm_sources_assemble_as_nasm_does(path, tmp_path):
    img = load_file(path)
    assert img.data == nasm_bytes(path, tmp_path)
    assert img.assembler.startswith("nasm ") and "NASM syntax" in img.assembler
    # the line map (from the listing) and the labels (from the map file)
    # agree: a label is the address of the next line that emits bytes
    assert img.lines and all(0x7C00 <= a < 0x7C00 + len(img.data) for a in img.lines)
    for label, addr in img.symbols.items():
        if addr in img.lines:
            assert img.source_line(img.lines[addr]).strip(), label


@pytest.mark.parametrize("path", PROGRAMS, ids=os.path.basename)
def test_the_keystone_fallback_matches_nasm_or_refuses(path, tmp_path):
    """keystone with the NASM front end (for a machine without nasm): the
    programs its first line says it covers come out as nasm makes them;
    the others are refused in one line that names the file and line."""
    with open(path) as f:
        claim = f.readline().split(":", 1)[1].strip()
    if claim == "yes":
        img = load_file(path, assembler="keystone")
        assert img.data == nasm_bytes(path, tmp_path)
        assert img.assembler.startswith("keystone")
        # the same labels as nasm's map, where the load address is the origin
        by_nasm = load_file(path).symbols
        assert img.symbols == by_nasm
    else:
        assert claim == "refused"
        with pytest.raises(ImageError) as e:
            load_file(path, assembler="keystone")
        msg = one_line_error(e, path + ":")
        assert "beyond the keystone fallback" in msg and "make deps" in msg


def test_labels_and_lines_of_a_nasm_program():
    img = load_file(os.path.join(CORPUS, "13_msg_db.asm"))
    # print: is followed by `mov ah, 0x0e` (B4 0E, SDM "MOV r8, imm8")
    at = img.symbols["print"]
    assert img.data[at - 0x7C00:at - 0x7C00 + 2] == bytes([0xB4, 0x0E])
    assert img.source_line(img.lines[at]).strip() == "mov ah, 0x0e"
    assert img.symbols["print.next"] == at + 2
    assert img.data[img.symbols["msg"] - 0x7C00:].startswith(b"Hi\0")


def test_lines_inside_an_included_file_name_that_file():
    img = load_file(os.path.join(CORPUS, "26_include.asm"))
    inc = os.path.join(CORPUS, "serial.inc")
    loc = img.lines[img.symbols["putc"]]
    assert loc[0].endswith("serial.inc") and loc[1] == 4
    assert img.source_line(loc).strip() == "push dx"
    assert os.path.samefile(loc[0], inc)


def test_the_debugger_breaks_on_a_nasm_label_and_lists_its_source(tmp_path):
    script = write(tmp_path, "s.gdb", "break print\ncontinue\nlist\nquit\n")
    r = subprocess.run([sys.executable, "-m", "emu", "debug", "-x", script,
                        os.path.join(CORPUS, "13_msg_db.asm")],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    # mov si, msg (BE iw), call print (E8 cw), jmp $ (EB FE): print is at 0x7C08
    assert "Breakpoint 1, 0x7c08 <print>" in r.stdout
    assert "13_msg_db.asm:7: mov ah, 0x0e" in r.stdout


# -- the problems of the old keystone-only loader ----------------------------------------
BOOT = """[bits 16]
org 0x7c00
start:
    mov si, msg
    jmp short .go
.go:
    mov al, [es:bx]
    jmp $
msg db "Hi",0
times 510-($-$$) db 0
dw 0xAA55
"""


def test_a_boot_sector_in_nasm_syntax(tmp_path):
    """org, [bits 16], times 510-($-$$), msg db, jmp $, jmp short, [es:bx]:
    all rejected (or hanging) before; now as nasm makes them, on nasm and
    on the keystone fallback."""
    path = write(tmp_path, "boot.asm", BOOT)
    want = nasm_bytes(path, tmp_path)
    assert len(want) == 512 and want[-2:] == b"\x55\xaa"
    assert load_file(path).data == want
    assert load_file(path, assembler="keystone").data == want


def test_bits_16_in_brackets_does_not_hang_keystone(tmp_path):
    path = write(tmp_path, "b.S", "[bits 16]\n    mov ax, 1\n")
    assert load_file(path).data == bytes([0xB8, 0x01, 0x00])


def test_db_with_a_string(tmp_path):
    path = write(tmp_path, "s.S", 'msg: db "Hi", 0\n')
    assert load_file(path).data == b"Hi\0"


def test_a_size_without_ptr_is_not_silently_dropped(tmp_path):
    """`inc word [x]` assembled to nothing (keystone returns no bytes and no
    error): now the NASM form means what it means in NASM."""
    src = "    inc word [x]\n    hlt\nx: dw 0\n"
    path = write(tmp_path, "w.S", src)
    nasm_path = write(tmp_path, "w.asm", "org 0x7c00\n" + src)
    assert load_file(path).data == nasm_bytes(nasm_path, tmp_path)


def test_a_line_keystone_drops_without_a_word_is_named(tmp_path):
    path = write(tmp_path, "d.S", "    nop\n    mov ax, word x\n    hlt\nx: dw 0\n")
    with pytest.raises(ImageError) as e:
        load_file(path)
    msg = one_line_error(e, f"{path}:2: ")
    assert "keystone stopped here" in msg and "mov ax, word x" in msg


@pytest.mark.parametrize("name,text", [("e.S", ""), ("c.S", "; only a comment\n"),
                                       ("e.asm", ""), ("l.asm", "label:\n"),
                                       ("e.s", ".intel_syntax noprefix\n")])
def test_an_empty_image_is_an_error(tmp_path, name, text):
    path = write(tmp_path, name, text)
    with pytest.raises(ImageError) as e:
        load_file(path)
    assert "assembles to no bytes" in one_line_error(e, f"{path}:")


@pytest.mark.parametrize("name,text,line", [
    ("k.S", "nop\n\n    movx ax, 1\n", 3),
    ("n.asm", "nop\nnop\n    bogus ax\n", 3),
    ("g.s", ".code16\n    movw %ax, %bx\n    bogusl %eax\n", 3),
    ("g.S", "#define X 1\n.code16\n    movw $X, %ax\n    bogus\n", 4),
    ("f.asm", "org 0x7c00\n%include \"nowhere.inc\"\n", 2),
])
def test_every_error_names_file_line_and_assembler(tmp_path, name, text, line):
    path = write(tmp_path, name, text)
    with pytest.raises(ImageError) as e:
        load_file(path)
    msg = one_line_error(e, f"{path}:{line}: ")
    assert any(a in msg for a in ("keystone", "nasm", "GNU as", "invalid", "instruction")), msg


# -- 16-bit memory operands on labels: [disp16], never 0x67 -----------------------------
OPERANDS = """    inc word {ptr}[x]
    mov byte {ptr}[x], 1
    lea si, [x]
    lgdt [x]
    cmp word {ptr}[x], 5
    hlt
x: {data} 0, 0, 0
"""


def test_label_operands_in_16_bit_code_have_16_bit_addresses_on_every_path(tmp_path):
    """INC r/m16 is FF /0 and [disp16] is mod 00 r/m 110 (SDM Vol. 2A
    Table 2-1): FF 06 lo hi, no 67 prefix.  The judge is nasm."""
    judged = write(tmp_path, "j.asm", "org 0x7c00\n" + OPERANDS.format(ptr="", data="dw"))
    want = nasm_bytes(judged, tmp_path)
    assert want[:4] == bytes([0xFF, 0x06]) + (0x7C00 + len(want) - 6).to_bytes(2, "little")
    keystone_dialect = load_file(write(tmp_path, "k.S", OPERANDS.format(ptr="ptr ", data=".word")))
    nasm_on_keystone = load_file(write(tmp_path, "n.asm", "org 0x7c00\n" + OPERANDS.format(ptr="", data="dw")),
                                 assembler="keystone")
    gnu_as = load_file(write(tmp_path, "g.s", ".intel_syntax noprefix\n"
                             + OPERANDS.format(ptr="ptr ", data=".word")))
    for img in (keystone_dialect, nasm_on_keystone, gnu_as):
        assert img.data == want, img.assembler


# -- an assembler never hangs kasou -----------------------------------------------------
def test_keystone_that_never_finishes_is_stopped_and_the_line_named(tmp_path):
    """keystone loops forever in C on `.fill` with an undefined count;
    the worker is killed and the line that does not finish is named."""
    src = "    nop\n    .fill undefined_count, 1, 0\n    hlt\n"
    with pytest.raises(ImageError) as e:
        assemble(src, "h.S", timeout=1)
    msg = one_line_error(e, "h.S:2: ")
    assert "did not finish" in msg and ".fill undefined_count" in msg


def test_a_silent_worker_is_killed_and_leaves_no_process():
    def forever(progress):
        progress("started")
        while True:
            time.sleep(1)
    before = set(children(os.getpid()))           # other tests' helpers may still run
    with pytest.raises(asm_base.WorkerTimeout) as e:
        asm_base.in_worker(forever, timeout=0.5)
    assert e.value.progress == "started"
    assert set(children(os.getpid())) <= before   # the worker is gone, reaped


def children(pid):
    """The ids of ``pid``'s child processes (from /proc/*/stat)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(stat.split("/")[2])
    return out


def test_ctrl_c_interrupts_an_assembler_that_hangs(tmp_path):
    """SIGINT reaches kasou while keystone spins in C: kasou ends (the
    interrupted status), the worker with it."""
    path = write(tmp_path, "h.S", "    .fill undefined_count, 1, 0\n")
    # SIGINT as a terminal gives it: a test run started in the background
    # inherits it ignored, and Python then keeps it ignored
    code = ("import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "from emu.asm import keystone\nprint('go', flush=True)\n"
            f"keystone.assemble(open({path!r}).read(), {path!r}, timeout=600)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "go"
    for _ in range(600):                          # until the keystone worker runs
        worker = children(p.pid)
        if worker:
            break
        time.sleep(0.05)
    assert worker, "no worker process started"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "KeyboardInterrupt" in err
    assert not os.path.exists(f"/proc/{worker[0]}/status") or \
        "Z" in open(f"/proc/{worker[0]}/status").read().split("State:")[1][:4]


# -- the dialect is chosen predictably ------------------------------------------------------
@pytest.mark.parametrize("name,text,want", [
    ("a.asm", "mov ax, 1\n", "nasm"),
    ("a.nasm", "mov ax, 1\n", "nasm"),
    ("a.S", "    mov ax, 1 ; a comment\n", "keystone"),
    ("a.s", "mov ax, 1\n", "keystone"),
    ("a.s", ".intel_syntax noprefix\nmov ax, 1\n", "gas"),
    ("a.S", "    movw $1, %ax\n", "gas"),
    ("a.S", "; mentions %ax in a comment only\nmov ax, 1\n", "keystone"),
])
def test_dialect_by_extension_and_declared_syntax(name, text, want):
    assert dialect(name, text) == want


def test_gnu_as_sources_att_and_intel(tmp_path):
    """AT&T `.s` and a preprocessed `.S`: GNU as's bytes (MOV r16, imm16 is
    B8+r iw, SDM "MOV"), labels from its symbols, lines from DWARF."""
    att = write(tmp_path, "a.s", "start:\n    movw $0x1234, %ax\n    jmp start\nend: hlt\n")
    img = load_file(att)
    assert img.data == bytes([0xB8, 0x34, 0x12, 0xEB, 0xFB, 0xF4])
    assert img.symbols == {"start": 0x7C00, "end": 0x7C05}
    assert img.lines[0x7C03] == (att, 3) and img.source_line(img.lines[0x7C05]).strip() == "end: hlt"
    assert img.assembler.startswith("GNU as") and "GNU as syntax" in img.assembler
    cpp = write(tmp_path, "b.S", "#define PORT 0x3f8\n.intel_syntax noprefix\n"
                "    mov dx, PORT\n    out dx, al\n")
    img = load_file(cpp)
    assert img.data == bytes([0xBA, 0xF8, 0x03, 0xEE])
    assert img.lines[0x7C03] == (cpp, 4)



@pytest.mark.parametrize("name", ["c.s", "c.S"])
def test_gnu_as_assembles_the_text_given_not_the_file(tmp_path, name):
    """``assemble_file(text, path)`` assembles ``text`` (a caller such as
    ``emu.bench.guest_image`` changes a line first), still naming ``path``
    and its lines, and finding includes beside it."""
    from emu.asm import assemble_file
    write(tmp_path, "inc.s", "    hlt\n")
    path = write(tmp_path, name, "    movw $1, %ax\n.include \"inc.s\"\n")
    img = assemble_file(open(path).read().replace("$1", "$2"), path)
    assert img.data == bytes([0xB8, 0x02, 0x00, 0xF4])
    assert img.lines[0x7C00] == (path, 1)
    with pytest.raises(ImageError, match=rf"^{path}:2: "):
        assemble_file("    movw $1, %ax\n    bogus %ax\n", path)

def test_emu_run_says_which_assembler_ran(tmp_path):
    path = write(tmp_path, "x.asm", "org 0x7c00\nmov al, 0\nout 0xf4, al\n")
    r = subprocess.run([sys.executable, "-m", "emu", "run", "-d", "asm", path],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 1, r.stderr             # isa-debug-exit: (0 << 1) | 1
    assert f"asm: {path}: nasm " in r.stderr and "NASM syntax" in r.stderr


# -- the guests kasou ships assemble as before --------------------------------------------
# sha256 of each image as the loader before emu/asm made it.  Those marked
# `addr16` changed only where 16-bit code had a label operand: keystone's
# 67 <modrm> disp32 became <modrm> disp16 (LGDT/LIDT [label], INC/CMP/MOV
# [label]), everything else is the same, byte for byte.
GUESTS = {
    "emu/guests/crc32.S": "7e85ccd877fa47f2bb88d1233396880199f834d754949f20562957c54c578d84",
    "emu/guests/demo.S": "50f3557a89213c201389520e2d28b7a6345d2207bd4420baddde8fb0b20d3343",
    "emu/guests/fib.S": "3fd521a12fd96bd44461140863f1fb0bf28cfc98aa7ff695d383ee63f15528f2",
    "emu/guests/intloop.S": "ed87788b15b191a48cdceb4442fad4383dba4a01ae6af0d1671fb8dcb0cf3d2b",
    "emu/guests/sieve.S": "a5e1d3ebbce2bd0b6d8df654e1060327782c058b0fac136ee5c3b248b200003f",
    "emu/guests/strcopy.S": "224f5c27bffa0ad22c7cce2069fda6c81a2b38163e0d306b25bdf679f50eee5a",
    "emu/guests/uart.S": "4d207a3cce589584e0e691d6db02f403a6dad45d16d32f13461038482d5db7cd",
    "tests/guests/x86/ext386.S": "e574d899331f2a3d7c725bc781deb0b5f38df8351be4cc492f80cf81f566955b",
    "tests/guests/x86/ud_loop.S": "7e869d61f5c316e3befe02a361a951e52c548242493126a7aec73ebb7093231a",
    "tests/guests/x86/watch.S": "f92578547537a8aade829722204263bc3a6adaad7032e8cc42767b73810bf435",
    "tutorials/01-exits/hello.S": "ef6ce98b5653fa97882fc78d8d833b98d48302f705215ea93154964acccf6125",
}
ADDR16 = ("emu/guests/lm_loop.S", "tests/guests/x86/long_boot.S", "tests/guests/x86/paging.S",
          "tests/guests/x86/pm_boot.S", "tests/guests/x86/ring3_gp.S", "tests/guests/x86/timer.S",
          "tutorials/03-debugging/count.S", "tests/guests/x86/high_mmio.S",
          "tests/guests/x86/ring3_iopl.S", "tests/guests/x86/smc_storm.S",
          "tests/guests/x86/lidt_zero.S")




def _arm_source(path: str) -> bool:
    """An Arm GNU as source (the virt board's): its first line is a comment
    started by '@', which only Arm's GNU as reads as one."""
    with open(path) as f:
        return f.read(1) == "@"


SHIPPED = sorted(os.path.relpath(p, REPO) for d in ("emu/guests", "tests/guests/x86", "tutorials/*",
                                                     "tutorials/*/answers")
                 for p in glob.glob(os.path.join(REPO, d, "*.S")) if not _arm_source(p))


def test_the_pinned_guests_are_still_shipped():
    assert set(GUESTS) | set(ADDR16) <= set(SHIPPED)


@pytest.mark.parametrize("rel", sorted(GUESTS))
def test_shipped_guests_assemble_to_the_same_bytes(rel):
    data = load_file(os.path.join(REPO, rel)).data
    assert hashlib.sha256(data).hexdigest() == GUESTS[rel]


def shipped_image(rel):
    """(image, file) for a shipped guest: a lab exercise's source that its
    spec builds with instructor code (``build.harness``/``build.after``) is
    assembled with it, as ``emu grade`` does; any other alone."""
    import tomllib
    path = os.path.realpath(os.path.join(REPO, rel))
    parts = rel.split(os.sep)
    if parts[0] == "tutorials":
        for spec_path in glob.glob(os.path.join(REPO, *parts[:2], "exercises", "*.toml")):
            with open(spec_path, "rb") as f:
                spec = tomllib.load(f)
            build = spec["build"]
            if build.get("source") != os.path.basename(rel) or not ({"harness", "after"} & set(build)):
                continue
            where = os.path.dirname(spec_path)
            code = [f'.include "{os.path.realpath(os.path.join(where, build["harness"]))}"'] \
                if "harness" in build else []
            code += [f".code{spec['assignment']['bits']}", f'.include "{path}"']
            if "after" in build:
                code.append(f'.include "{os.path.realpath(os.path.join(where, build["after"]))}"')
            return assemble("\n".join(code) + "\n", name=os.path.join(where, "__grade__.S"),
                            base=0x7C00), path
    img = load_file(path)
    return img, img.name


def _includes_wide_code(line: str, path: str) -> bool:
    """An ``.include`` of a file (next to ``path``, or kasou's guest library)
    that switches to 32- or 64-bit code: what follows it is not 16-bit."""
    import re
    m = re.match(r'\s*\.include\s+"([^"]+)"', line)
    if not m:
        return False
    for where in (os.path.dirname(path), os.path.join(REPO, "emu", "guests", "lib")):
        inc = os.path.join(where, m.group(1))
        if os.path.isfile(inc):
            text = open(inc).read()
            return ".code32" in text or ".code64" in text
    return False


@pytest.mark.parametrize("rel", [g for g in SHIPPED if g not in GUESTS])
def test_shipped_guests_16_bit_code_has_no_address_size_prefix(rel):
    """The 16-bit part of every shipped guest but those pinned byte for byte
    above (their lines before the first .code32/.code64): capstone finds an
    address-size prefix (67) only where the operand names a 32-bit
    register.  Those in ADDR16 have such operands to check."""
    from capstone import CS_ARCH_X86, CS_MODE_16, Cs
    img, path = shipped_image(rel)
    source = img.sources.get(path, img.source)
    cs = Cs(CS_ARCH_X86, CS_MODE_16)
    cs.detail = True
    first32 = next((n for n, line in enumerate(source, 1)
                    if line.strip().startswith((".code32", ".code64")) or _includes_wide_code(line, path)),
                   len(source) + 1)
    addrs = sorted(img.lines)
    checked = 0
    for k, a in enumerate(addrs):
        name, n = img.lines[a]
        if name != path or n >= first32:
            continue
        text = img.source_line((name, n)).split(";")[0].lower()
        end = addrs[k + 1] if k + 1 < len(addrs) else img.base + len(img.data)
        insn = next(cs.disasm(img.data[a - img.base:end - img.base], a), None)
        if insn is None or "[" not in text:
            continue
        wide = any(r in text for r in ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp"))
        assert (insn.prefix[3] == 0x67) == wide, (rel, n, text, insn.bytes.hex())
        checked += 1
    assert checked >= 1 or rel not in ADDR16


# -- the README's commands ---------------------------------------------------------------
def test_the_readme_gcc_command_for_elf_guests_works(tmp_path):
    """The command the README shows, word for word, on the example in
    tests/guests/elf (start.s, and fib.c as prog.c): its output loads and
    runs to the guest's exit."""
    import shlex
    import shutil
    from emu.machine import Machine
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    cmd = next(line.strip() for line in readme.splitlines() if line.strip().startswith("gcc -m16"))
    shutil.copy(os.path.join(REPO, "tests", "guests", "elf", "start.s"), tmp_path / "start.s")
    shutil.copy(os.path.join(REPO, "tests", "guests", "elf", "fib.c"), tmp_path / "prog.c")
    argv = shlex.split(cmd)
    sh(tool(argv[0]), *argv[1:], cwd=tmp_path)
    out = [a for a in argv if a.startswith("-o")]
    exe = tmp_path / (argv[argv.index("-o") + 1] if "-o" in argv else "a.out")
    assert out or exe.exists()
    img = load_file(str(exe))
    m = Machine(accel="interp")
    m.load_image(img.data, img.name)
    r = m.run(icount_limit=5_000_000)
    m.close()
    assert r.reason in ("halt", "debug-exit"), r


def test_the_readme_nasm_example_is_what_nasm_makes(tmp_path):
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    start = readme.index("```nasm\n") + len("```nasm\n")
    path = write(tmp_path, "boot.asm", readme[start:readme.index("```", start)])
    img = load_file(path)
    assert img.data == nasm_bytes(path, tmp_path) and len(img.data) == 512
    assert img.symbols["start"] == 0x7C00 and "start.next" in img.symbols
    assert img.source_line(img.lines[img.symbols["start.next"]]).split() == [".next:", "lodsb"]


@pytest.mark.parametrize("name", ["far.S", "far.asm"])
def test_a_short_jump_out_of_range_is_an_error_not_a_near_jump(tmp_path, name):
    """nasm refuses it; the keystone paths must not write a near jump."""
    body = "    jmp short there\n    times 200 nop\nthere: hlt\n"
    text = body.replace("times 200 nop", ".fill 200, 1, 0x90") if name.endswith(".S") else body
    path = write(tmp_path, name, text)
    with pytest.raises(ImageError) as e:
        load_file(path, assembler="keystone")
    assert "out of range" in one_line_error(e, f"{path}:1: ")
    if name.endswith(".asm"):
        with pytest.raises(ImageError) as e:
            load_file(path)
        assert "out of range" in one_line_error(e, f"{path}:1: ")


def test_a_label_operand_runs_the_same_program_on_an_8086(tmp_path):
    """On an 8086 0x67 is no prefix (it decodes as JA rel8, Intel 8086
    manual, opcode table): the old encoding ran another program there."""
    from emu.machine import Machine
    src = ("    mov word ptr [x], 5\n    inc word ptr [x]\n    mov ax, [x]\n"
           "    out 0xf4, al\n    hlt\nx: .word 0\n")
    img = load_file(write(tmp_path, "c.S", src))
    m = Machine(accel="interp", cpu="8086")
    m.load_image(img.data, img.name)
    r = m.run(icount_limit=1000)
    m.close()
    assert (r.reason, r.status) == ("debug-exit", (6 << 1) | 1), r


def test_constants_defined_after_their_use_settle(tmp_path):
    """`.set` constants that use each other in any order, in a count and in
    a memory operand (the loader evaluates them from the previous pass)."""
    src = ("    inc word ptr [b]\n    .fill c, 1, 0x90\n    hlt\n"
           ".set b, a + 2\n.set a, x\n.set c, 3\nx: .word 0, 0\n")
    img = load_file(write(tmp_path, "k.S", src))
    x = img.symbols["x"]
    # INC r/m16 FF /0 with [disp16] = x + 2; three NOPs; HLT
    assert img.data[:8] == bytes([0xFF, 0x06]) + (x + 2).to_bytes(2, "little") + b"\x90" * 3 + b"\xf4"
