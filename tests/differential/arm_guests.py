"""The ARM guests (tests/guests/arm): how they are built, what each must
print, and how each runs on real QEMU and on kasou.

Expected outputs are computed here in Python, from the computation each
guest describes in its header (and, for crc32, from the guest's own bytes
as ``arm-none-eabi-objcopy`` extracts them), never by kasou.
"""

from __future__ import annotations

import os
import subprocess
import zlib

from tests.conftest import tool
from tests.differential.models import fib, primes_below

GUEST_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "arm")
#: the ARM versions of `emu bench`'s guests (emu.cli.BENCH_GUESTS)
BENCH = ("intloop", "sieve", "strcopy", "crc32", "fib", "uart", "lm_loop")
LOAD = 0x40010000
UART_TEXT = b"The quick brown fox jumps over the lazy dog.\n"
HELLO_TEXT = b"Hello from the virt board, through Arm semihosting!\n"
#: what irq_echo reads through the PL011's receive interrupt
ECHO_INPUT = b"Hello, interrupts: 33 through the GIC. (not echoed)\n"
#: calc's input and its exit status (the sum modulo 256)
CALC_NAME, CALC_NUMBERS = "kasou", (10, -3, 200, 7, 40)


def build(out_dir: str) -> str:
    """Build every ARM guest into ``out_dir`` (the guests' Makefile)."""
    for t in ("arm-none-eabi-as", "arm-none-eabi-ld", "arm-none-eabi-gcc"):
        tool(t)
    r = subprocess.run(["make", "-s", "-C", GUEST_DIR, f"O={out_dir}"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"building the ARM guests failed: {r.stderr or r.stdout}"
    return out_dir


def flat_image(elf: str) -> bytes:
    """The loadable bytes of ``elf`` from its lowest address, by objcopy."""
    out = elf[:-4] + ".bin"
    subprocess.run([tool("arm-none-eabi-objcopy"), "-O", "binary", elf, out], check=True,
                   timeout=60)
    with open(out, "rb") as f:
        return f.read()


def _hex_loop(iterations: int, plus_one: bool) -> bytes:
    a = b = 0
    for c in range(iterations, 0, -1):
        a = (a + c) % 2**32
        b = ((b ^ a) + plus_one) % 2**32
    return f"{b:08X}\n".encode()


def expected(name: str, build_dir: str) -> bytes:
    """What guest ``name`` prints."""
    if name == "intloop":
        return _hex_loop(40000, True)
    if name == "lm_loop":
        return _hex_loop(0x20000, False)
    if name == "sieve":
        return f"{primes_below(0xF000):04X}\n".encode()
    if name == "strcopy":
        return b"OK\n"
    if name == "crc32":
        code = flat_image(os.path.join(build_dir, "crc32.elf"))
        return f"{zlib.crc32((code + bytes(512))[:512] * 16):08X}\n".encode()
    if name == "fib":
        return f"{fib(18)}\n".encode()
    if name == "uart":
        return UART_TEXT * 200
    if name == "hello":
        return HELLO_TEXT
    if name == "irq_echo":
        return ECHO_INPUT[:ECHO_INPUT.index(b".") + 1].upper() + b"\n"
    if name == "calc":
        return expected_calc(CALC_NAME, CALC_NUMBERS)[0]
    raise KeyError(name)


def calc_input(name: str = CALC_NAME, numbers=CALC_NUMBERS) -> bytes:
    return f"{name}\n{len(numbers)}\n{' '.join(map(str, numbers))}\n".encode()


def expected_calc(name: str, numbers) -> tuple:
    """(output, exit status) of tests/guests/arm/calc.c for this input."""
    out = "name? "
    for i, x in enumerate(numbers):
        out += f"{i:2d}: {x:6d}  0x{x & 0xFFFFFFFF:08x}\n"
    n = len(numbers)
    total = sum(numbers)
    out += (f"hello, {name}: {n} numbers, sum {total}, largest {max(numbers)}, "
            f"fib({n + 10}) = {fib(n + 10)}\n")
    return out.encode(), total & 0xFF


def qemu_command(elf: str, console_input: bool = False) -> list:
    """QEMU's virt with the guest as -kernel: ``-nographic -semihosting``,
    or for a guest that reads its console through semihosting, no stdio
    chardev at all (``-serial null``): QEMU's semihosting ``:tt`` reads the
    host's standard input directly, and a stdio chardev (-nographic's, for
    the PL011 and the monitor) would race it for the bytes."""
    qemu = [tool("qemu-system-arm"), "-M", "virt", "-cpu", "cortex-a15"]
    if console_input:
        return qemu + ["-display", "none", "-monitor", "none", "-serial", "null",
                       "-semihosting", "-kernel", elf]
    return qemu + ["-nographic", "-semihosting", "-kernel", elf]


def run_qemu(elf: str, stdin: bytes = b"", console_input: bool = False, extra=()) -> tuple:
    """(console output, exit status) of ``elf`` on qemu-system-arm.  The
    console is QEMU's standard output and its standard error: QEMU writes
    SYS_WRITE0/SYS_WRITEC text to stderr when its stdin is not a terminal.
    One of the two must be empty, so that their order cannot matter."""
    r = subprocess.run(qemu_command(elf, console_input) + list(extra), input=stdin,
                       capture_output=True, timeout=120)
    assert not (r.stdout and r.stderr), f"QEMU wrote to both stdout and stderr: {r.stderr!r}"
    return r.stdout + r.stderr, r.returncode


def run_kasou(elf: str, accel: str, stdin: bytes = b"", icount_limit: int = 50_000_000) -> tuple:
    """(output, exit status, RunResult) of ``elf`` on kasou's virt board
    with ``-semihosting`` on engine ``accel``: for the engines once they
    run ARM (the same expected outputs judge them)."""
    from emu.loader import load_guest
    from emu.machine import Machine
    img = load_guest(elf, board="virt")
    m = Machine(board="virt", accel=accel, semihosting=True, serial_input=stdin)
    try:
        m.load_image(img.data, img.name, img.entry, img.base)
        r = m.run(icount_limit=icount_limit)
        return m.serial_output(), r.status, r
    finally:
        m.close()
