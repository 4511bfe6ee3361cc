"""The debugger and the gdb stub on ARM (the virt board).

Two guests: ``calc.c`` (tests/guests/arm, newlib on semihosting, built
with ``arm-none-eabi-gcc -g``) and a small assembly guest that calls an
A32 leaf (LR never saved), a Thumb function through BLX, and reads a
word.  What the tests expect comes from programs nobody here wrote: the
addresses and instructions from ``arm-none-eabi-objdump``/``nm``, source
lines from ``addr2line``, the values from the C program's own arithmetic
(``fib`` in Python), and -- through the stub -- what stock
``gdb-multiarch`` prints, at source level.  ``info registers`` and ``x /i``
are compared with real ``qemu-system-arm``'s monitor.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from emu.cli import main
from emu.isa import get_target
from emu.loader import load_guest
from emu.machine import Machine
from tests.conftest import tool
from tests.differential import arm_guests as A
from tests.differential.models import fib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
needs_gdb = pytest.mark.skipif(shutil.which("gdb-multiarch") is None,
                               reason="gdb-multiarch is not installed (make deps installs it)")

FRAMES = """
    .syntax unified
    .arm
    .global _start
_start:
    ldr     sp, =0x40100000
    mov     r0, #5
    bl      leaf                @ an A32 leaf: LR is never saved
    ldr     r1, =thumb_fn       @ a Thumb function: bit 0 set
    blx     r1
    ldr     r2, =value
    ldr     r3, [r2]            @ read by a read watchpoint
    str     r0, [r2, #4]
    mov     r0, #0x18           @ SYS_EXIT, ADP_Stopped_ApplicationExit
    ldr     r1, =0x20026
    svc     0x123456
leaf:
    add     r0, r0, #1
    add     r0, r0, #2
    bx      lr

    .thumb
    .thumb_func
thumb_fn:
    push    {r4, lr}
    movs    r4, #7
    adds    r0, r0, r4
    pop     {r4, pc}

    .align  2
    .ltorg
value:
    .word   0x1234
    .word   0
"""


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("arm-calc"))
    tool("arm-none-eabi-gcc")
    r = subprocess.run(["make", "-s", "-C", A.GUEST_DIR, f"O={out}", f"{out}/calc.elf"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr or r.stdout
    return os.path.join(out, "calc.elf")


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    d = tmp_path_factory.mktemp("arm-frames")
    (d / "frames.S").write_text(FRAMES)
    subprocess.run([tool("arm-none-eabi-as"), "-march=armv7-a", "-g", "-o", "frames.o", "frames.S"],
                   cwd=d, check=True, timeout=60)
    subprocess.run([tool("arm-none-eabi-ld"), "-Ttext=0x40010000", "-e", "_start", "-o",
                    "frames.elf", "frames.o"], cwd=d, check=True, timeout=60)
    return str(d / "frames.elf")


def symbols(elf) -> dict:
    """nm's symbols (a Thumb function's address without bit 0)."""
    out = subprocess.run([tool("arm-none-eabi-nm"), elf], capture_output=True, text=True,
                         check=True).stdout
    return {f[2]: int(f[0], 16) & ~1 for f in (ln.split() for ln in out.splitlines()) if len(f) == 3}


def disassembly(elf) -> list:
    """[(address, size, text)] from objdump -d."""
    out = subprocess.run([tool("arm-none-eabi-objdump"), "-d", elf], capture_output=True,
                         text=True, check=True).stdout
    rows = []
    for m in re.finditer(r"^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$", out, re.M):
        size = len(m.group(2).replace(" ", "")) // 2
        rows.append((int(m.group(1), 16), size, m.group(3).strip()))
    return rows


def after(rows, pattern) -> list:
    """The addresses after the instructions whose text matches ``pattern``
    (return addresses of calls)."""
    return [a + n for a, n, text in rows if re.search(pattern, text)]


def source_line(elf, addr) -> str:
    out = subprocess.run([tool("arm-none-eabi-addr2line"), "-e", elf, f"0x{addr:x}"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out.rsplit(":", 1)[1].split()[0]


def transcript(tmp_path, capsys, elf, commands, stdin=None):
    """[what each command printed] of ``emu debug -M virt -semihosting -kernel ELF``."""
    script = tmp_path / "cmds.gdb"
    script.write_text("\n".join(commands) + "\n")
    args = ["debug", "-M", "virt", "-semihosting", "-x", str(script), "-kernel", elf]
    if stdin is not None:
        args += ["--input", stdin]
    rc = main(args)
    out = capsys.readouterr().out
    assert rc == 0, out
    steps = [tuple(p.split("\n", 1)) for p in out.split("(emu) ")[1:]]
    assert [c for c, _ in steps] == commands, out
    return [text for _, text in steps]


# -- emu debug -------------------------------------------------------------------------------
def test_debug_frames_finish_thumb_and_watch(tmp_path, capsys, frames):
    sym = symbols(frames)
    rows = disassembly(frames)
    ret_leaf, = after(rows, r"^bl\s.*<leaf>")
    ret_thumb, = after(rows, r"^blx\s+r1")
    load, = [a for a, _, text in rows if re.match(r"ldr\s+r3, \[r2\]", text)]
    out = transcript(tmp_path, capsys, frames, [
        "b leaf", "c", "bt", "finish", "p $r0",                     # 0-4: the A32 leaf
        "b thumb_fn", "c", "x/2i $pc", "bt", "stepi", "finish",     # 5-10: Thumb, through BLX
        "info registers cpsr",                                      # 11
        f"rwatch *(int*)0x{sym['value']:x}", "c", "reverse-stepi",  # 12-14
        "quit"])
    assert f"Breakpoint 1, 0x{sym['leaf']:x} <leaf>" in out[1]
    assert f"#0  0x{sym['leaf']:x} in leaf ()" in out[2]
    assert f"#1  0x{ret_leaf:x} in _start+{ret_leaf - sym['_start']} ()" in out[2]
    # finish from a leaf that moved no stack pointer: at its return address,
    # not one instruction on
    assert f"=> 0x{ret_leaf:x} <_start+{ret_leaf - sym['_start']}>" in out[3]
    assert "$1 = 8 (0x8)" in out[4]                                  # 5 + 1 + 2
    assert f"Breakpoint 2, 0x{sym['thumb_fn']:x} <thumb_fn>" in out[6]
    assert "push {r4, lr}" in out[7] and "movs r4, #7" in out[7]
    assert f"#1  0x{ret_thumb:x} in _start+{ret_thumb - sym['_start']} ()" in out[8]
    assert f"pc 0x{sym['thumb_fn']:x} -> 0x{sym['thumb_fn'] + 2:x}" in out[9]   # 16-bit push
    assert f"=> 0x{ret_thumb:x} " in out[10]                          # back in A32 after pop {pc}
    assert "[ A I F svc ]" in out[10] and "T svc" in out[10]         # ... T was set, and cleared
    assert re.search(r"cpsr\s+0x1d3\s+\[ A I F svc \]", out[11])
    assert f"=> 0x{load:x} " in out[13]                               # before the load reads
    assert f"=> 0x{load - 4:x} " in out[14]


def test_debug_calc_at_source_level(tmp_path, capsys, calc):
    sym = symbols(calc)
    rows = disassembly(calc)
    ret, = [r for r in after(rows, r"^bl\s.*<fib>$") if r > sym["main"]]
    bx, = [a for a, _, text in rows if sym["fib"] <= a < sym["main"] and text == "bx\tlr"]
    numbers = A.CALC_NUMBERS
    want_out, status = A.expected_calc(A.CALC_NAME, numbers)
    out = transcript(tmp_path, capsys, calc, [
        "info registers pc", "stepi",                            # 0-1
        "break fib", "c", "bt", "delete", "finish", "p $r0",    # 2-7
        "reverse-stepi", "list", "c",                           # 8-10
        "reverse-stepi", "c",                                   # 11-12: before the exit call
        "b _write", "reverse-continue", "c",                    # 13-15: the last write again
        "quit"], stdin=A.calc_input().decode())
    entry = load_guest(calc, board="virt").entry
    assert f"0x{entry:x} <_mainCRTStartup>" in out[0]
    assert f"pc 0x{entry:x} -> 0x{entry + 4:x}" in out[1]
    fib_line = source_line(calc, sym["fib"])
    assert f"Breakpoint 1 at 0x{sym['fib']:x} <fib>: file calc.c, line {fib_line}." in out[2]
    assert f"#0  0x{sym['fib']:x} in fib ()" in out[4]
    assert f"#1  0x{ret:x} in main+{ret - sym['main']} ()" in out[4]
    assert "in _mainCRTStartup+" in out[4]
    assert f"=> 0x{ret:x} <main+{ret - sym['main']}>" in out[6]
    k = len(numbers) + 10
    assert f"$1 = {fib(k)} (0x{fib(k):x})" in out[7]
    assert f"=> 0x{bx:x} <fib+{bx - sym['fib']}>" in out[8]          # fib's bx lr, undone
    # list: the lines around the one the PC is in (in the middle of it)
    source = open(os.path.join(A.GUEST_DIR, "calc.c")).read().splitlines()
    line = int(source_line(calc, bx))
    assert f"=>{line:<6}{source[line - 1]}\n" in out[9], out[9]
    assert f"exit status {status}" in out[10]
    assert repr(want_out.decode()[-40:])[1:-1] in out[10]          # the guest's output, as shown
    # one instruction back from the end (the guest ended by a semihosting
    # call, whose answer the engine held): the output stays as it was there,
    # and the call is made again
    assert "guest output rewound" not in out[11] and "reversed 1 instruction" in out[11]
    assert f"exit status {status}" in out[12]
    # back to the last write, and forward again: it is made again
    assert "Breakpoint 2, " in out[14] and "guest output rewound" in out[14]
    assert repr(want_out.decode()[-40:])[1:-1] in out[15] and f"exit status {status}" in out[15]


# -- gdb-multiarch ----------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gdb_session(elf, commands, stdin=b""):
    """(gdb's output, the guest's output, its exit status) of ``emu run -M
    virt -semihosting -gdb tcp::PORT -S -kernel ELF`` driven by stock
    gdb-multiarch."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=REPO)
    console = tempfile.TemporaryFile()
    console.write(stdin)
    console.seek(0)
    proc = subprocess.Popen([sys.executable, "-m", "emu", "run", "-M", "virt", "-semihosting",
                             "-gdb", f"tcp::{port}", "-S", "-kernel", elf],
                            stdin=console, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=REPO)
    try:
        line = proc.stderr.readline().decode()        # printed once the stub listens
        assert f"waiting for gdb on 127.0.0.1:{port}" in line and "set architecture arm" in line
        args = ["gdb-multiarch", "-batch", "-nx", "-ex", "set architecture arm",
                "-ex", "set remotetimeout 30", "-ex", f"file {elf}",
                "-ex", f"target remote 127.0.0.1:{port}"]
        for c in commands:
            args += ["-ex", c]
        r = subprocess.run(args, capture_output=True, text=True, timeout=300)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        console.close()
    return r.stdout + r.stderr, stdout, proc.returncode


@needs_gdb
def test_gdb_multiarch_debugs_calc_at_source_level(calc):
    sym = symbols(calc)
    rows = disassembly(calc)
    ret, = [r for r in after(rows, r"^bl\s.*<fib>$") if r > sym["main"]]
    numbers = A.CALC_NUMBERS
    k = len(numbers) + 10
    want_out, status = A.expected_calc(A.CALC_NAME, numbers)
    out, guest_out, rc = gdb_session(calc, [
        "break fib", "continue", "bt", "delete", "finish", "p/x $pc", "stepi", "p/x $pc",
        "reverse-stepi", "p/x $pc", "info registers", "x/4i $pc", "continue"], A.calc_input())
    fib_line = source_line(calc, sym["fib"])
    call_line = source_line(calc, ret - 4)
    assert f"Breakpoint 1 at 0x{sym['fib']:x}: file calc.c, line {fib_line}." in out
    assert f"Breakpoint 1, fib (k=k@entry={k}) at calc.c:{fib_line}" in out
    assert f"#0  fib (k=k@entry={k}) at calc.c:{fib_line}" in out
    assert f"#1  0x{ret:08x} in main () at calc.c:{call_line}" in out
    assert f"Value returned is $1 = {fib(k)}" in out
    assert f"$2 = 0x{ret:x}" in out
    assert f"$3 = 0x{ret + 4:x}" in out
    assert f"$4 = 0x{ret:x}" in out                          # reverse-stepi went back
    assert re.search(rf"^pc\s+0x{ret:x}\s+0x{ret:x} <main\+{ret - sym['main']}>", out, re.M)
    assert re.search(r"^cpsr\s+0x[0-9a-f]+\s+\[ .*I F .*\]", out, re.M)
    assert re.search(rf"^sp\s+0x[0-9a-f]+", out, re.M)
    text = dict((a, t) for a, _, t in rows)[ret].split("\t")[0]
    assert re.search(rf"=> 0x{ret:x} <main\+{ret - sym['main']}>:\t{text}", out)
    assert f"exited with code 0{status:o}]" in out         # (gdb prints it in octal)
    assert guest_out == want_out
    assert rc == status


@needs_gdb
def test_gdb_multiarch_thumb_breakpoint_and_watch(frames):
    sym = symbols(frames)
    out, _, rc = gdb_session(frames, [
        "break thumb_fn", "continue", "x/2i $pc", "p $cpsr & 0x20", "monitor info registers",
        "stepi", "p/x $sp",
        "reverse-stepi", "p/x $pc", "p/x $sp", "rwatch *(int *)&value", "continue", "continue"])
    assert f"Breakpoint 1 at 0x{sym['thumb_fn']:x}" in out
    assert "Breakpoint 1, thumb_fn ()" in out
    assert re.search(rf"=> 0x{sym['thumb_fn']:x} <thumb_fn>:\tpush\t\{{r4, lr\}}", out)
    assert re.search(rf"0x{sym['thumb_fn'] + 2:x} <thumb_fn\+2>:\tmovs\tr4, #7", out)
    assert "$1 = 32" in out                                   # CPSR.T: Thumb state
    assert re.search(r"^PSR=000001f3 ---- T svc32$", out, re.M)    # QEMU's dump, in Thumb state
    assert re.search(rf"^R12=0+ R13=40100000 R14=[0-9a-f]{{8}} R15={sym['thumb_fn']:08x}$", out, re.M)
    assert "$2 = 0x400ffff8" in out                           # push {r4, lr}: 8 bytes
    assert f"$3 = 0x{sym['thumb_fn']:x}" in out and "$4 = 0x40100000" in out
    assert "Hardware read watchpoint 2: *(int *)&value" in out and "Value = 4660" in out
    # gdb steps over the load that triggered it (ARM's watchpoints are not
    # continuable: gdbarch have_nonsteppable_watchpoint) and stops after it
    assert re.search(r"^13\t\s*str\s+r0, \[r2, #4\]", out, re.M)
    assert "exited normally" in out and rc == 0


# -- the monitor's formats, against qemu-system-arm ---------------------------------------------
def qemu_monitor(elf, commands) -> str:
    qemu = [tool("qemu-system-arm"), "-M", "virt", "-cpu", "cortex-a15", "-display", "none",
            "-serial", "null", "-monitor", "stdio", "-S", "-semihosting", "-kernel", elf]
    r = subprocess.run(qemu, input="".join(c + "\n" for c in commands) + "quit\n",
                       capture_output=True, text=True, timeout=60)
    return r.stdout


def test_info_registers_and_x_i_as_qemu(calc):
    out = qemu_monitor(calc, ["info registers", "x /6i 0x40010000"])
    img = load_guest(calc, board="virt")
    m = Machine(board="virt")
    try:
        m.load_image(img.data, img.name, img.entry, img.base)
        ours = m.target.dump_registers(m.cpu)
        target, cpu, model = m.target, m.cpu, m.model
        code = m.ram.read_bytes(0x40010000, 24)
    finally:
        m.close()
    assert ours.startswith("\nCPU#0\n")
    theirs = [ln for ln in out.splitlines() if re.match(r"R\d\d=|PSR=", ln)]
    mine = ours.strip().splitlines()[1:]
    assert mine[:4] == theirs[:4]                            # R00-R15
    # the PSR line: the same format; the flags at reset are UNKNOWN (B1.9.10),
    # and QEMU happens to start with Z set
    assert re.sub(r"=.(\w{7}) [-NZCV]{4}", r"=?\1 ????", mine[4]) == \
        re.sub(r"=.(\w{7}) [-NZCV]{4}", r"=?\1 ????", theirs[4])
    qemu_insns = re.findall(r"^0x([0-9a-f]{8}):\s+[0-9a-f]{8}\s+(.*?)\s*$", out, re.M)
    assert len(qemu_insns) == 6
    for k, (addr, text) in enumerate(qemu_insns):
        assert int(addr, 16) == 0x40010000 + 4 * k
        assert target.disassemble_at(code[4 * k:], 0x40010000 + 4 * k, cpu, model) == (4, text)


def test_dump_registers_flags_thumb_and_mode():
    """QEMU's PSR line: NZCV by letter, T or A, the mode and 32."""
    target = get_target("arm")
    s = target.new_state()
    s.set_cpsr(0xA0000030)                  # N, C; Thumb; user mode
    s.r[:] = range(0x10, 0x20)
    lines = target.dump_registers(s).splitlines()
    assert lines[2] == "R00=00000010 R01=00000011 R02=00000012 R03=00000013"
    assert lines[5] == "R12=0000001c R13=0000001d R14=0000001e R15=0000001f"
    assert lines[6] == "PSR=a0000030 N-C- T usr32"


# -- the adapter's operand ranges ----------------------------------------------------------------
@pytest.mark.parametrize("words, thumb, regs, want", [
    # push {r4, lr}
    ([0xE92D4010], False, {13: 0x40001000}, [(0x40000FF8, 4, "w"), (0x40000FFC, 4, "w")]),
    # pop {r4, pc}
    ([0xE8BD8010], False, {13: 0x40001000}, [(0x40001000, 4, "r"), (0x40001004, 4, "r")]),
    # ldrd r2, [r1, #8]
    ([0xE1C120D8], False, {1: 0x40000100}, [(0x40000108, 4, "r"), (0x4000010C, 4, "r")]),
    # str r2, [r3], #4
    ([0xE4832004], False, {3: 0x40000200}, [(0x40000200, 4, "w")]),
    # ldr r2, [r3, r4, lsl #2]
    ([0xE7932104], False, {3: 0x40000200, 4: 3}, [(0x4000020C, 4, "r")]),
    # swp r2, r4, [r3]
    ([0xE1032094], False, {3: 0x40000300}, [(0x40000300, 4, "rw")]),
    # ldreq: Z clear, no access
    ([0x05932000], False, {3: 0x40000200}, []),
    # T16 push {r4, lr}
    ([0xB510], True, {13: 0x40001000}, [(0x40000FF8, 4, "w"), (0x40000FFC, 4, "w")]),
    # T16 ldr r1, [r2, r1]
    ([0x5851], True, {1: 0x40000400, 2: 8}, [(0x40000408, 4, "r")]),
])
def test_memory_operands(words, thumb, regs, want):
    m = Machine(board="virt")
    try:
        adapter = m.target.debug_adapter(m)
        s = m.cpu
        s.pc = 0x40010000
        if thumb:
            s.cpsr |= 0x20
        for n, v in regs.items():
            s.r[n] = v
        size = 2 if thumb else 4
        code = b"".join(w.to_bytes(size, "little") for w in words) + bytes(4)
        insn = adapter.decode(s, code, s.pc)
        assert sorted(adapter.memory_operands(s, insn)) == sorted(want)
        assert s.r[13] == regs.get(13, s.r[13]) and s.pc == 0x40010000   # nothing changed
    finally:
        m.close()


# -- the contract, registers and the stub's packets ----------------------------------------------
def test_arm_fills_every_part_of_the_contract():
    from emu.isa.arm.debug_adapter import ArmDebugAdapter
    from emu.isa.debug_adapter import DebugAdapter
    names = sorted(n for n, v in vars(DebugAdapter).items() if callable(v) and not n.startswith("_"))
    missing = [n for n in names if getattr(ArmDebugAdapter, n) is getattr(DebugAdapter, n)]
    assert not missing, f"ArmDebugAdapter leaves {missing} to the contract"


def test_registers_by_every_name_and_bad_names(frames):
    from emu.debug.gdbstub import GdbStub
    from emu.debug.session import DebugError
    img = load_guest(frames, board="virt")
    m = Machine(board="virt", semihosting=True)
    m.load_image(img.data, img.name, img.entry, img.base)
    stub = GdbStub(m, img, port=0)
    try:
        s = stub.session
        s.set_register("fp", 0x1111)
        s.set_register("r12", 0x2222)
        assert s.get_register("r11") == 0x1111 and s.get_register("ip") == 0x2222
        assert s.get_register("pc") == s.get_register("r15") == img.entry
        with pytest.raises(DebugError, match=r"unknown register \$eax \(expected r0-r15"):
            s.get_register("eax")
        s.set_register("cpsr", 0x1F)                 # system mode: no SPSR
        with pytest.raises(DebugError, match="sys mode has no SPSR"):
            s.get_register("spsr")
        s.set_register("cpsr", 0x1D3)
        # gdb's g packet: r0-r15 and the CPSR, 4 bytes each, little-endian
        g = stub.handle(b"g")
        assert len(g) == 17 * 8
        assert g[11 * 8:12 * 8] == "11110000" and g[16 * 8:] == "d3010000"
        assert stub.handle(b"p10") == "d3010000"
        assert stub.handle(b"p11") == "E45"
        xml = stub.adapter.gdb_target_xml("arm")
        assert "<architecture>arm</architecture>" in xml and "org.gnu.gdb.arm.core" in xml
        assert xml.count("<reg ") == 17
    finally:
        stub.close()
        m.close()


def test_debug_takes_one_guest(frames, capsys):
    assert main(["debug", "-M", "virt", "-kernel", frames, frames]) != 0
    err = capsys.readouterr().err
    assert "two guest images given" in err and len(err.strip().splitlines()) == 1
