"""``emu debug`` against stock gdb: where gdb has an answer, the REPL gives the same.

Stock gdb (batch mode) debugs the same guest through the stub, and the
tests compare what it prints with what ``emu debug`` prints: the PCs
``step`` and ``next`` stop at (on an ELF with DWARF lines: C and GNU as
sources), what its abbreviations of commands mean, the form of the exit
code, and the values of cast and dereferenced expressions.
"""

import os
import pathlib
import re
import shutil
import subprocess
import threading

import pytest

from emu.debug.gdbstub import GdbStub
from emu.debug.repl import ALIASES, COMMANDS, GDB_ELSEWHERE, Repl
from emu.loader import assemble, load_file
from emu.machine import Machine
from tests.debug.test_repl import debug

GDB = shutil.which("gdb")
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb is not installed (make deps installs it)")


def gdb_on(image, commands, elf=None):
    """What stock gdb prints for ``commands`` against the stub serving ``image``."""
    m = Machine(accel="interp")
    m.load_image(image.data, image.name)
    stub = GdbStub(m, image, port=0)
    t = threading.Thread(target=stub.serve, kwargs={"freeze": True}, daemon=True)
    t.start()
    args = [GDB, "-batch", "-nx", "-ex", "set architecture i8086", "-ex", "set remotetimeout 10",
            "-ex", f"target remote 127.0.0.1:{stub.port}"]
    for c in commands:
        args += ["-ex", c]
    args += ["-ex", "detach"] + ([elf] if elf else [])
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=120,
                           cwd=os.path.dirname(elf) if elf else None)
    finally:
        t.join(timeout=30)
        stub.close()
        m.close()
    return r.stdout + r.stderr


def emu_on(tmp_path, capsys, guest, commands, accel="interp"):
    return debug(tmp_path, capsys, accel, commands, pathlib.Path(guest))


def gdb_pcs(out):
    return [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)$", out, re.M)]


def emu_pcs(out):
    """The PC after each command (the '=>' line that ends each stop)."""
    return [int(v, 16) for v in re.findall(r"^=> (0x[0-9a-f]+)", out, re.M)][1:]


ENGINES = ["interp", "tcg", "unicorn",
           pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                        reason="/dev/kvm is absent on this host"))]


STEPPING = [
    ("fib.elf", ["step"] * 14),                          # C and assembly, into calls, recursion
    ("fib.elf", ["step"] * 7 + ["next"] * 2),            # next over fib's recursive calls and out
    ("fib.elf", ["step"] * 5 + ["next"]),                # next over main's call of fib
    ("hello.elf", ["step"] * 10),                        # GNU as: a loop, line by line
    ("hello.elf", ["next"] * 10 + ["step", "next"]),
]


@needs_gdb
@pytest.mark.parametrize("accel", ENGINES)
@pytest.mark.parametrize("name,commands", STEPPING)
def test_step_and_next_stop_where_gdb_stops(elf_guests, tmp_path, capsys, name, commands, accel):
    elf = str(elf_guests / name)
    img = load_file(elf)
    theirs = gdb_pcs(gdb_on(img, [x for c in commands for x in (c, "p/x $pc")], elf))
    ours = emu_pcs(emu_on(tmp_path, capsys, elf, commands, accel))
    assert len(theirs) == len(commands)
    assert ours == theirs


@pytest.mark.parametrize("accel", ENGINES)
def test_step_enters_an_assembly_call_and_next_runs_it_whole(tmp_path, capsys, accel):
    """The loader's line map of a .S guest: step stops at the callee's
    first line, next at the line after the CALL (the callee's output shown)."""
    src = tmp_path / "g.S"
    src.write_text("start:\n    mov dx, 0x3f8\n    call sub\n    mov al, 2\n    out 0xf4, al\n"
                   "sub:\n    mov al, 0x48\n    out dx, al\n    ret\n")
    sym = assemble(src.read_text(), "g.S").symbols
    out = emu_on(tmp_path, capsys, src, ["s", "s", "s", "run", "n", "n"], accel)
    assert emu_pcs(out)[:3] == [sym["start"] + 3, sym["sub"], sym["sub"] + 2]
    after_call = emu_pcs(out)[-1]
    assert after_call == sym["start"] + 6
    assert out.rsplit("(emu) n\n", 1)[1].count('guest output: "H"') == 1


def test_step_without_line_information_says_so(tmp_path, capsys):
    flat = tmp_path / "g.bin"
    flat.write_bytes(bytes.fromhex("b002e6f4f4"))
    out = emu_on(tmp_path, capsys, flat, ["step", "next", "stepi"])
    assert out.count("The guest has no line number information") == 2
    assert "executed 0x7c00: mov al, 0x2" in out


@needs_gdb
def test_abbreviations_mean_what_they_mean_in_gdb():
    """Every alias, and every prefix of every command: where gdb's 'help'
    takes the word for one of the REPL's commands, the REPL takes it for
    the same one (s is step, not set; n is next)."""
    words = sorted(set(ALIASES) - {"EOF"} | set(GDB_ELSEWHERE)
                   | {c[:k] for c in COMMANDS for k in range(1, len(c) + 1)})
    args = [GDB, "-batch", "-nx"]
    for w in words:
        args += ["-ex", f"echo @@{w}\\n", "-ex", f"help {w}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    answers = {}
    for block in (r.stdout + r.stderr).split("@@")[1:]:
        word, _, text = block.partition("\n")
        # gdb's help names the command on its first line when it has
        # aliases ("step, s"), else in its usage line ("Usage: display[/FMT] EXP")
        names = (re.match(r"\s*([a-z-]+)(?:, [a-z-]+)*\n", text)
                 or re.search(r"^Usage: ([a-z-]+)", text, re.M))
        answers[word] = names.group(1) if names else None
    repl = Repl.__new__(Repl)
    checked = 0
    elsewhere = 0
    for w in words:
        gdb_command = answers.get(w)
        if gdb_command is None:
            continue
        if gdb_command not in COMMANDS:      # gdb has it, this debugger does not
            elsewhere += 1
            assert repl.resolve(w) is None, (w, gdb_command)
            continue
        checked += 1
        assert repl.resolve(w) == gdb_command, (w, gdb_command)
    assert checked > 100 and elsewhere > 5
    for w, name in GDB_ELSEWHERE.items():        # the table says what gdb says
        assert answers[w] in (name, None), (w, answers[w])
    assert repl.resolve("s") == "step" and repl.resolve("n") == "next"


GUEST_EXIT = """
start:
    mov al, {v}
    out 0xf4, al
    hlt
"""


@needs_gdb
@pytest.mark.parametrize("v", [0, 4, 0x31])
def test_exit_code_is_shown_as_gdb_shows_it(tmp_path, capsys, v):
    """isa-debug-exit status (v << 1) | 1: gdb prints it in octal with a
    leading 0 (01, 011, 0143)."""
    src = GUEST_EXIT.format(v=v)
    theirs = re.search(r"exited with code (\d+)\]", gdb_on(assemble(src, "g.S"), ["continue"])).group(1)
    path = tmp_path / "g.S"
    path.write_text(src)
    ours = re.search(r"exited with code (\d+)\]", emu_on(tmp_path, capsys, path, ["c"])).group(1)
    assert ours == theirs


EXPRESSIONS = ["*(short*)&msg", "*(unsigned short *)&msg", "*(char*)&msg", "*(int *)&msg",
               "*(unsigned char*)((char*)&msg + 1)", "*((short*)&msg + 1)", "(short)0x12345",
               "(unsigned char)-1", "(signed char)0x80", "*(long long*)&msg", "(char)msg",
               "-*(short*)&msg + 3", "(unsigned int)-2 >> 1", "7 % 3 * 2 | 8"]


@needs_gdb
def test_expressions_have_the_values_gdb_gives(elf_guests, tmp_path, capsys):
    """C casts, dereference, & of a label and arithmetic on them, as gdb
    evaluates them (gdb reads the ELF's symbols; both read memory through
    the same guest)."""
    elf = str(elf_guests / "hello.elf")
    img = load_file(elf)
    theirs = re.findall(r"^\$\d+ = (-?\d+)", gdb_on(img, [f"p {e}" for e in EXPRESSIONS], elf), re.M)
    ours = re.findall(r"^\$\d+ = (-?\d+)", emu_on(tmp_path, capsys, elf, [f"p {e}" for e in EXPRESSIONS]),
                      re.M)
    assert len(theirs) == len(EXPRESSIONS)
    assert ours == theirs


@needs_gdb
def test_x_of_the_address_of_a_label_as_gdb(elf_guests, tmp_path, capsys):
    """x/FMT of &label, of pointer arithmetic on it, and of an address past
    the image's last label (named by no label, as gdb names it)."""
    elf = str(elf_guests / "hello.elf")
    img = load_file(elf)
    commands = ["x/8xb &msg", "x/2dh (char*)&msg + 1", "x/2xb &msg + 2", "x/2xb 0x7d00",
                f"x/2xb 0x{img.base + len(img.data) + 1:x}"]
    line = re.compile(r"^0x7[0-9a-f]{3}(?: <[\w+]+>)?:\t.*$", re.M)
    theirs = line.findall(gdb_on(img, commands, elf))
    ours = line.findall(emu_on(tmp_path, capsys, elf, commands))
    assert ours == theirs and len(theirs) == len(commands)
