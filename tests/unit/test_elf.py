"""ELF guests: built with GNU as, ld and gcc (DWARF line info; the
``elf_guests`` fixture in tests/conftest.py), and judged by binutils --
objcopy for the bytes, nm for the symbols, addr2line for the line map --
not by the loader's own reading."""

import os

import pytest

from emu.loader import ImageError, load_file
from emu.machine import Machine
from tests.conftest import sh, tool


@pytest.fixture(scope="module")
def built(elf_guests):
    return elf_guests


@pytest.mark.parametrize("name", ["hello.elf", "fib.elf"])
def test_elf_bytes_symbols_and_lines_agree_with_binutils(built, name):
    path = str(built / name)
    img = load_file(path)
    # the loaded bytes: objcopy's flat image of the same file
    sh(tool("objcopy"), "-O", "binary", "-j", ".text", "-j", ".rodata", "-j", ".data", path, "flat.bin",
       cwd=built)
    flat = (built / "flat.bin").read_bytes()
    assert img.base == 0x7C00 and img.data[:len(flat)] == flat and len(flat) > 16
    # the labels: nm's symbols inside the image
    nm = {}
    for line in sh(tool("nm"), path).splitlines():
        addr, kind, sym = line.split()
        a = int(addr, 16)
        if kind.lower() in "tdrb" and 0x7C00 <= a < 0x7C00 + len(img.data):
            nm[sym] = a
    assert nm and img.symbols == nm
    # the line map: addr2line's file and line for every address that has one
    assert len(img.lines) >= 8
    addrs = sorted(img.lines)
    out = sh(tool("addr2line"), "-e", path, *[hex(a) for a in addrs]).splitlines()
    for a, ref in zip(addrs, out):
        file, _, line = ref.rpartition(":")
        got_file, got_line = img.lines[a]
        assert (os.path.basename(got_file), got_line) == (os.path.basename(file), int(line.split()[0])), hex(a)
    # the sources are read for list
    for file in {f for f, _ in img.lines.values()}:
        assert img.sources[file], file


def test_elf_guests_run_alike_on_every_engine(built):
    from emu.cli import accel_available
    outs = {}
    for accel in ("interp", "tcg", "unicorn", "kvm"):
        if accel == "kvm" and not os.path.exists("/dev/kvm"):
            continue                     # (no /dev/kvm on this machine)
        assert accel_available(accel)[0], accel
        img = load_file(str(built / "fib.elf"))
        m = Machine(accel=accel)
        m.load_image(img.data, img.name)
        r = m.run(icount_limit=1_000_000)
        outs[accel] = (m.serial_output(), r.reason, r.status)
        m.close()
    assert set(outs.values()) == {(b"55\n", "debug-exit", 1)}, outs


def test_bad_elf_files_get_one_line(built, tmp_path):
    good = (built / "hello.elf").read_bytes()
    cases = {
        "truncated.elf": (good[:40], "not a valid ELF file"),
        "object.elf": ((built / "hello.o").read_bytes(), "expected a linked executable"),
    }
    # the same program linked elsewhere: this board loads at 0x7C00
    sh(tool("ld"), "-m", "elf_i386", "-Ttext=0x1000", "-e", "_start", "-o", str(tmp_path / "far.elf"),
       str(built / "hello.o"))
    cases["far.elf"] = ((tmp_path / "far.elf").read_bytes(), "loads at 0x1000")
    # an entry point outside what it loads
    sh(tool("ld"), "-m", "elf_i386", "-Ttext=0x7c00", "-e", "0x9000", "-o", str(tmp_path / "lost.elf"),
       str(built / "hello.o"))
    cases["lost.elf"] = ((tmp_path / "lost.elf").read_bytes(), "entry 0x9000 is outside")
    # another architecture: e_machine patched to EM_ARM (40)
    arm = bytearray(good)
    arm[18:20] = (40).to_bytes(2, "little")
    cases["arm.elf"] = (bytes(arm), "an ELF file for EM_ARM, not for x86")
    for name, (data, expect) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ImageError) as e:
            load_file(str(p))
        msg = str(e.value)
        assert expect in msg and "\n" not in msg, (name, msg)


ENGINES = ["interp", "tcg", "unicorn",
           pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                        reason="/dev/kvm is absent on this host"))]


@pytest.mark.parametrize("accel", ENGINES)
def test_debugger_on_an_elf_guest_shows_c_source_and_frames(built, tmp_path, capsys, accel):
    """emu debug on the gcc-built guest: a breakpoint on a C function by
    name, its source line from DWARF, list around it, the frames up to the
    assembly start, and finish back into the caller."""
    from emu.cli import main
    src = (built / "fib.c").read_text().splitlines()
    brace = src.index("static int fib(int n)") + 2          # the line of its "{"
    script = tmp_path / "cmds"
    script.write_text("b fib\nc\nlist\nbt\nfinish\nquit\n")
    rc = main(["debug", "-accel", accel, "-x", str(script), str(built / "fib.elf")])
    out = capsys.readouterr().out
    assert rc == 0, out
    fib = load_file(str(built / "fib.elf")).symbols["fib"]
    assert f"Breakpoint 1 at 0x{fib:x} <fib>: file fib.c, line {brace}." in out
    assert f"Breakpoint 1, 0x{fib:x} <fib>" in out
    assert f"(fib.c:{brace}: {{)" in out
    assert f"=>{brace:<6}{{" in out                           # list marks the line
    assert f"{brace + 1:<6}    if (n < 2)" in out
    bt = out.split("(emu) bt\n", 1)[1].split("(emu) ", 1)[0]
    frames = bt.splitlines()
    assert frames[0].startswith(f"#0  0x{fib:x} in fib ()")
    assert " in main+" in frames[1] and " in _start+" in frames[2]


ENTRY_NOT_FIRST = """\
    .code16
    .text
wrong:                      # the first byte: exit with status (2 << 1) | 1
    mov $2, %al
    out %al, $0xf4
    hlt
    .globl _start
_start:                     # the ELF entry: exit with status (0 << 1) | 1
    mov $0, %al
    out %al, $0xf4
    hlt
"""


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_the_elf_entry_point_is_where_the_guest_starts(tmp_path, accel):
    """An ELF is entered at e_entry (``-e _start``, here not its first
    byte), as QEMU's -kernel enters one; the Image carries the entry."""
    (tmp_path / "entry.s").write_text(ENTRY_NOT_FIRST)
    sh(tool("as"), "--32", "-o", "entry.o", "entry.s", cwd=tmp_path)
    sh(tool("ld"), "-m", "elf_i386", "-Ttext=0x7c00", "-e", "_start", "-o", "entry.elf", "entry.o",
       cwd=tmp_path)
    nm = {line.split()[2]: int(line.split()[0], 16)
          for line in sh(tool("nm"), str(tmp_path / "entry.elf")).splitlines()}
    img = load_file(str(tmp_path / "entry.elf"))
    assert img.entry == nm["_start"] != img.base
    m = Machine(accel=accel)
    m.load_image(img.data, img.name, img.entry)
    r = m.run(icount_limit=100)
    m.close()
    assert (r.reason, r.status) == ("debug-exit", 1)


def test_emu_diff_enters_an_elf_at_its_entry_point(tmp_path):
    """emu diff runs both engines from e_entry, as emu run does: the
    guest exits with status 1 (from _start), not 5 (from the first byte)."""
    from emu.diff import run_diff
    (tmp_path / "entry.s").write_text(ENTRY_NOT_FIRST)
    sh(tool("as"), "--32", "-o", "entry.o", "entry.s", cwd=tmp_path)
    sh(tool("ld"), "-m", "elf_i386", "-Ttext=0x7c00", "-e", "_start", "-o", "entry.elf", "entry.o",
       cwd=tmp_path)
    img = load_file(str(tmp_path / "entry.elf"))
    res = run_diff(img.data, accels=("interp", "tcg"), entry=img.entry)
    assert not res.diverged and res.end == (("debug-exit", 1), ("debug-exit", 1)), res


def test_an_elf_loads_where_its_segments_say_for_a_board_that_asks(built, tmp_path):
    """``elf_base=None`` (the virt board's way, as QEMU's -kernel): the
    segments at their own addresses, judged by objcopy; the pc board's
    load_guest still wants 0x7C00."""
    far = tmp_path / "far.elf"
    sh(tool("ld"), "-m", "elf_i386", "-Ttext=0x8000", "-e", "_start", "-o", str(far),
       str(built / "hello.o"))
    sh(tool("objcopy"), "-O", "binary", str(far), str(tmp_path / "far.bin"))
    img = load_file(str(far), elf_base=None)
    assert img.base == 0x8000 and img.data == (tmp_path / "far.bin").read_bytes()
    starts = {line.split()[2]: int(line.split()[0], 16)
              for line in sh(tool("nm"), str(far)).splitlines() if len(line.split()) == 3}
    assert img.entry == starts["_start"]
    from emu.loader import load_guest
    with pytest.raises(ImageError, match="loads at 0x8000; this board loads an image at 0x7c00"):
        load_guest(str(far), board="pc")
