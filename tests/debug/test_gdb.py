"""Stock gdb (batch mode) against the stub, on a real-mode guest.

The stub runs in a thread on a free port (the kernel picks it: port 0);
gdb connects with ``set architecture i8086`` (the stub's target.xml says
i8086 too, so gdb disassembles 16-bit code), and every test asserts on
what gdb prints.  ``emu run -gdb tcp::PORT -S`` is exercised as a process.
"""

import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from emu.debug.gdbstub import GdbStub, checksum, escape, unescape
from emu.isa.x86.debug_adapter import target_xml
from emu.loader import assemble
from emu.machine import Machine

GDB = shutil.which("gdb")
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb is not installed (make deps installs it)")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GUEST = """
start:
    mov dx, 0x3f8
    mov al, 0x48
    out dx, al
    mov al, 0x69
    out dx, al
    mov word ptr [0x500], 0x1234
    mov bx, 0x4321
    mov al, 2
    out 0xf4, al
    hlt
"""


def run_gdb(port, *commands, timeout=60):
    args = [GDB, "-batch", "-nx", "-ex", "set architecture i8086", "-ex", "set remotetimeout 10",
            "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        args += ["-ex", c]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return r.stdout + r.stderr


def serve(accel="interp", guest=GUEST):
    img = assemble(guest, "g.S")
    m = Machine(accel=accel)
    m.load_image(img.data, img.name)
    stub = GdbStub(m, img, port=0)
    box = {}

    def body():
        box["status"] = stub.serve(freeze=True)
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return stub, m, t, box


def test_framing_helpers():
    assert checksum(b"OK") == b"9a"
    assert escape(b"a#b$c}d*") == b"a}\x03b}\x04c}]d}\x0a"
    assert unescape(escape(bytes(range(256)))) == bytes(range(256))
    xml = target_xml("i8086")
    assert "<architecture>i8086</architecture>" in xml and "org.gnu.gdb.i386.core" in xml
    assert xml.count("<reg ") == 32


@needs_gdb
@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_gdb_session(accel):
    stub, m, t, box = serve(accel)
    try:
        out = run_gdb(stub.port,
                      "info registers eip edx eflags", "stepi", "p/x $edx", "x/2i $cs*16+$eip",
                      "break *0x7c09", "continue", "x/8xb 0x7c00",
                      "watch *(short*)0x500", "continue",
                      "reverse-stepi", "p/x $eip", "x/2xb 0x500", "monitor info serial",
                      "set var $ebx = 0x55", "p/x $ebx", "detach")
    finally:
        t.join(timeout=30)
        stub.close()
    assert "0x00007c00 in ?? ()" in out
    assert "eip            0x7c00" in out
    assert "edx            0x80" in out
    assert "eflags         0x2" in out
    assert "0x00007c03 in ?? ()" in out
    assert "$1 = 0x3f8" in out
    assert "mov    $0x48,%al" in out            # 16-bit disassembly (i8086)
    assert "Breakpoint 1 at 0x7c09" in out
    assert "Breakpoint 1, 0x00007c09 in ?? ()" in out
    assert "0x7c00:\t0xba\t0xf8\t0x03\t0xb0\t0x48\t0xee\t0xb0\t0x69" in out
    assert "Hardware watchpoint 2: *(short*)0x500" in out
    assert "Old value = 0" in out and "New value = 4660" in out
    assert "0x00007c0f in ?? ()" in out         # stopped after the store
    assert "$2 = 0x7c09" in out                 # reverse-stepi: back before the store
    assert "0x500:\t0x00\t0x00" in out          # ... and the store is undone
    assert "'Hi'" in out
    assert "$3 = 0x55" in out
    assert "[Inferior 1 (Remote target) detached]" in out
    assert not t.is_alive()


@needs_gdb
def test_gdb_sees_the_guest_exit_and_reverse_continue():
    stub, m, t, box = serve("interp")
    try:
        out = run_gdb(stub.port, "break *0x7c05", "continue", "continue", "continue")
    finally:
        t.join(timeout=30)
        stub.close()
    assert "Breakpoint 1, 0x00007c05 in ?? ()" in out
    assert "[Inferior 1 (Remote target) exited with code 05]" in out
    assert box["status"] == 5

    stub, m, t, box = serve("interp")
    try:
        out = run_gdb(stub.port, "break *0x7c05", "break *0x7c08", "continue", "continue",
                      "reverse-continue", "p/x $eip", "monitor info serial", "detach")
    finally:
        t.join(timeout=30)
        stub.close()
    assert "Breakpoint 2, 0x00007c08 in ?? ()" in out
    assert out.count("Breakpoint 1, 0x00007c05 in ?? ()") == 2
    assert "$1 = 0x7c05" in out
    assert "''" in out                          # the 'H' was taken back


WATCH_GUEST = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86",
                                "watch.S")).read()


@needs_gdb
@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_gdb_reverse_continue_stops_at_watchpoints(accel):
    """bc with Z2, Z3 and Z4 set: gdb stops at the most recent earlier write,
    read, or access, before the instruction (as with 'record full')."""
    sym = assemble(WATCH_GUEST, "g.S").symbols
    stub, m, t, box = serve(accel, WATCH_GUEST)
    try:
        out = run_gdb(stub.port,
                      f"break *0x{sym['back']:x}", "continue", "watch *(short*)0x500",
                      "reverse-continue", "p/x $eip", "reverse-continue", "p/x $eip",
                      "x/2xb 0x500", "reverse-continue", "p/x $eip",
                      "delete", f"break *0x{sym['back']:x}", "continue",
                      "rwatch *(short*)0x500", "reverse-continue", "p/x $eip",
                      "delete", "awatch *(short*)0x500", "reverse-continue", "p/x $eip",
                      "detach")
    finally:
        t.join(timeout=30)
        stub.close()
    assert "Old value = 22136\nNew value = 4660" in out         # back over the write in sub
    assert f"$1 = 0x{sym['store2']:x}" in out
    assert "Old value = 4660\nNew value = 0" in out             # ... and over the first one
    assert f"$2 = 0x{sym['store1']:x}" in out
    assert "0x500:\t0x00\t0x00" in out
    assert "No more reverse-execution history." in out
    assert "$3 = 0x7c00" in out
    assert "Hardware read watchpoint 4: *(short*)0x500" in out
    assert f"$4 = 0x{sym['load']:x}" in out                     # the read, not the stores
    assert f"$5 = 0x{sym['store2']:x}" in out                   # awatch: the store before it
    assert "[Inferior 1 (Remote target) detached]" in out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_gdb
def test_emu_run_gdb_option(tmp_path):
    guest = tmp_path / "g.S"
    guest.write_text(GUEST)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "emu", "run", "-gdb", f"tcp::{port}", "-S", str(guest)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        line = proc.stderr.readline()        # printed once the stub listens
        assert f"waiting for gdb on 127.0.0.1:{port}" in line
        out = run_gdb(port, "stepi", "continue")
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "0x00007c03 in ?? ()" in out
    assert "exited with code 05" in out
    assert stdout == "Hi"
    assert proc.returncode == 5


def test_stub_answers_bad_packets_with_errors():
    img = assemble(GUEST, "g.S")
    m = Machine(accel="interp")
    m.load_image(img.data, img.name)
    stub = GdbStub(m, img, port=0)
    try:
        assert stub.handle(b"qNonsense") == ""                      # unknown: the empty reply
        assert stub.handle(b"mzz,4") == "E01"                       # not hex
        assert stub.handle(b"mfffffff0,4") == "E14"                 # not in RAM
        assert stub.handle(b"Mfffffff0,1:00") == "E14"
        assert stub.handle(b"Z0,fffffff0,1") == "E22"
        assert stub.handle(b"Z2,fffffff0,2") == "E22"
        assert stub.handle(b"p99") == "E45" and stub.handle(b"P99=00") == "E45"
        assert stub.handle(b"qXfer:features:read:other.xml:0,100") == "E00"
        assert stub.handle(b"m7c00,2") == "baf8"                    # and it still works
    finally:
        stub.close()
        m.close()


def test_stub_reports_an_engine_failure_in_one_line_and_goes_on():
    img = assemble(GUEST, "g.S")
    m = Machine(accel="interp")
    m.load_image(img.data, img.name)
    stub = GdbStub(m, img, port=0)
    ours, theirs = socket.socketpair()
    stub.conn, stub.ack = ours, False
    try:
        def broken():
            raise RuntimeError("boom")
        stub.session.cont = broken
        assert stub.handle(b"c") == "E01"
        data = theirs.recv(4096)
        assert data.startswith(b"$O") and data[-3:-2] == b"#"
        assert bytes.fromhex(data[2:-3].decode()) == b"emu: the interp engine failed: RuntimeError: boom\n"
        assert stub.handle(b"s").startswith(b"T05")             # and it still steps
    finally:
        theirs.close()
        stub.close()
        m.close()


@needs_gdb
@pytest.mark.parametrize("accel", ["interp", "tcg",
                                   pytest.param("kvm", marks=pytest.mark.skipif(
                                       not os.path.exists("/dev/kvm"), reason="/dev/kvm is absent"))])
def test_gdb_debugs_a_c_guest_at_source_level(elf_guests, accel):
    """Stock gdb with the ELF's own DWARF (gdb reads the file, the stub serves
    registers and memory): a breakpoint on a C function, its argument read
    through the frame, the C backtrace, list, finish with the value it
    returned, reverse-stepi back into the callee."""
    from emu.loader import load_file
    elf = str(elf_guests / "fib.elf")
    img = load_file(elf)
    m = Machine(accel=accel)
    m.load_image(img.data, img.name)
    stub = GdbStub(m, img, port=0)
    t = threading.Thread(target=stub.serve, kwargs={"freeze": True}, daemon=True)
    t.start()
    try:
        args = [GDB, "-batch", "-nx", "-ex", "set architecture i8086", "-ex", "set remotetimeout 10",
                "-ex", f"target remote 127.0.0.1:{stub.port}",
                "-ex", "break fib", "-ex", "continue", "-ex", "bt", "-ex", "list",
                "-ex", "delete", "-ex", "finish", "-ex", "reverse-stepi", "-ex", "info line *$pc",
                "-ex", "detach", elf]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=elf_guests)
        out = r.stdout + r.stderr
    finally:
        t.join(timeout=30)
        stub.close()
    src = (elf_guests / "fib.c").read_text().splitlines()
    brace = src.index("static int fib(int n)") + 2
    # the return address of main's call of fib: the instruction after the CALL
    import capstone
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16)
    ret = next(i.address + i.size for i in md.disasm(img.data, img.base)
               if i.mnemonic == "call" and i.op_str == f"0x{img.symbols['fib']:x}"
               and i.address >= img.symbols["main"])
    call = next(i for i, line in enumerate(src, 1) if "int v = fib(10);" in line)
    assert f"Breakpoint 1 at 0x{img.symbols['fib']:x}: file fib.c, line {brace}." in out, out
    assert f"Breakpoint 1, fib (n=n@entry=10) at fib.c:{brace}" in out, out
    assert f"#1  0x{ret:08x} in main () at fib.c:{call}" in out, out       # bt
    assert f"{brace + 1}\t    if (n < 2)" in out                             # list
    assert f"0x{ret:08x} in main () at fib.c:{call}" in out                   # finish ...
    assert "Value returned is $1 = 55" in out, out                            # ... fib(10)
    closing = brace + 4                                                       # fib's "}"
    assert f"in fib (n=n@entry=10) at fib.c:{closing}" in out, out            # reverse-stepi
    assert f'Line {closing} of "fib.c" starts at address' in out
    assert "[Inferior 1 (Remote target) detached]" in out
    assert not t.is_alive()


def _stub(guest=GUEST):
    img = assemble(guest, "g.S")
    m = Machine(accel="interp")
    m.load_image(img.data, img.name)
    return GdbStub(m, img, port=0), m


def test_G_writes_every_register_and_g_reads_them_back():
    """G with new values for the general registers: g returns exactly what
    G wrote, and the CPU (what the next instruction uses) has them."""
    stub, m = _stub()
    try:
        before = bytes.fromhex(stub.handle(b"g"))
        layout = stub.layout
        new = bytearray(before)
        off = 0
        wanted = {"eax": 0x11223344, "ecx": 0x55667788, "ebx": 0x0BADF00D, "esi": 0x1234,
                  "edi": 0x8765, "ebp": 0x7000}
        for name, size, _, _ in layout:
            if name in wanted:
                new[off:off + size] = wanted[name].to_bytes(size, "little")
            off += size
        assert stub.handle(b"G" + new.hex().encode()) == "OK"
        assert bytes.fromhex(stub.handle(b"g")) == bytes(new)
        for name, v in wanted.items():
            assert stub.session.get_register(name) == v
        assert m.cpu.regs[3] & 0xFFFFFFFF == 0x0BADF00D        # ebx, as the engine sees it
    finally:
        stub.close()
        m.close()


def test_short_G_and_short_M_are_errors_and_change_nothing():
    stub, m = _stub()
    try:
        regs = stub.handle(b"g")
        changed = "ff" * 4 + regs[8:]                      # eax = 0xffffffff ...
        assert stub.handle(("G" + changed[:-2]).encode()) == "E01"   # ... one byte short
        assert stub.handle(b"G" + changed.encode() + b"00") == "E01"  # one byte too many
        assert stub.handle(b"g") == regs
        assert stub.handle(b"M500,4:aabb") == "E01"        # 2 bytes for 4 declared
        assert stub.handle(b"M500,1:aabb") == "E01"
        assert stub.handle(b"X500,4:ab") == "E01"
        assert stub.handle(b"m500,4") == "00000000"
        assert stub.handle(b"M500,2:aabb") == "OK"         # and a right one still works
        assert stub.handle(b"m500,2") == "aabb"
    finally:
        stub.close()
        m.close()


@needs_gdb
def test_reverse_execution_does_not_show_the_output_again(tmp_path):
    """``emu run -gdb`` with the guest's output on stdout: stepping back over
    an OUT and forward over it again, or continuing through recorded
    positions, shows every byte once (as gdb's record does: replayed output
    is not the inferior's new output)."""
    guest = tmp_path / "g.S"
    guest.write_text(GUEST)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "emu", "run", "-gdb", f"tcp::{port}", "-S", str(guest)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    try:
        proc.stderr.readline()
        out = run_gdb(port, "stepi 3", "reverse-stepi", "stepi", "stepi 2", "reverse-stepi 3",
                      "stepi", "continue")
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "exited with code 05" in out, out
    assert stdout == b"Hi"
