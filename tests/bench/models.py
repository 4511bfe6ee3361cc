"""Python models of the bench guests (emu/guests/bench): what each prints
for a given SCALE, computed without kasou.  Each follows the algorithm its
guest's header describes, not the guest's code; one model serves a kind in
every mode (rm_KIND, pm_KIND and the A32 a32_KIND print the same)."""

import zlib

from tests.differential.models import fib, primes_below

MASK32 = 0xFFFFFFFF


def lcg_values(count: int):
    """The first ``count`` values of x = x * 1103515245 + 12345 (mod 2**32), from x = 1."""
    x = 1
    for _ in range(count):
        x = (x * 1103515245 + 12345) & MASK32
        yield x


def lcg(scale: int) -> int:
    return sum(lcg_values(scale * 1000)) & MASK32


def sieve(scale: int) -> int:
    return sum(primes_below(100 * scale - 97 * k) for k in range(10)) & MASK32


def strings(scale: int) -> int:
    a = bytearray(7 * i & 0xFF for i in range(4096))
    for p in range(scale):
        b = bytearray([p & 0xFF]) * 4096
        at = p % 512
        b[at:at + 3584] = a[:3584]
        a = bytearray((x + y) & 0xFF for x, y in zip(a, b))
    h = 0
    for byte in a:
        h = (((h << 5) | (h >> 27)) & MASK32) ^ byte
    return h


def crc32(scale: int) -> int:
    msg = bytes((13 * i + 5 + (i >> 8)) & 0xFF for i in range(4096))
    return zlib.crc32(msg * scale)


def uart_text(scale: int) -> bytes:
    """The lines the UART guests print before their checksum: the LCG
    64 steps on for each line."""
    out = bytearray()
    x = 1
    while len(out) < scale * 1024:
        for _ in range(64):
            x = (x * 1103515245 + 12345) & MASK32
        out += b"%d\n" % x
    return bytes(out)


def fletcher16_pair(data: bytes) -> int:
    s1 = s2 = 0
    for byte in data:
        s1 = (s1 + byte) & 0xFFFF
        s2 = (s2 + s1) & 0xFFFF
    return s2 << 16 | s1


def intloop(scale: int, bits: int) -> int:
    """BX after ``scale`` passes of CX = 40000 .. 1: AX += CX, BX = (BX xor AX) + 1,
    on ``bits``-wide registers."""
    mask = (1 << bits) - 1
    ax = bx = 0
    for _ in range(scale):
        for cx in range(40000, 0, -1):
            ax = (ax + cx) & mask
            bx = ((bx ^ ax) + 1) & mask
    return bx


def expected_output(kind: str, scale: int, mode: str = "real") -> bytes:
    """What the bench guest of ``kind`` (lcg, sieve, strings, crc32, fib,
    uart, intloop) prints at ``scale``; in either mode, but for intloop,
    whose registers are 16 bits wide in real mode and 32 in protected mode and A32."""
    if kind == "intloop":
        return b"%08x\n" % intloop(scale, 16 if mode == "real" else 32)
    if kind == "uart":
        text = uart_text(scale)
        return text + b"%08x\n" % fletcher16_pair(text)
    value = {"lcg": lcg, "sieve": sieve, "strings": strings, "crc32": crc32,
             "fib": fib}[kind](scale)
    return b"%08x\n" % value
