"""Python models of the C bench guests (emu/guests/c): the checksum each
prints for a given SCALE, computed from the algorithm its source's header
describes (sorted() for the sorts, str() for the decimal strings, regular
expressions for the tokenizer), without kasou or a compiler.  x86
(pmc_KIND) and A32 (a32c_KIND) guests print the same."""

import math
import re

MASK32 = 0xFFFFFFFF


class Lcg:
    """x = x * 1103515245 + 12345 (mod 2**32) from x = 1; ``next()`` is the
    new value's top 24 bits, ``x`` the whole state."""

    def __init__(self):
        self.x = 1

    def next(self) -> int:
        self.x = (self.x * 1103515245 + 12345) & MASK32
        return self.x >> 8


def signed(v: int, bits: int = 32) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def qsort(scale: int) -> int:
    rnd, h = Lcg(), 0
    for _ in range(scale):
        for v in sorted(rnd.next() - 0x800000 for _ in range(1000)):
            h = (h * 31 + v) & MASK32
    return h


def matmul(scale: int) -> int:
    rnd, n, h = Lcg(), 16, 5381
    a = [[(rnd.next() & 15) - 8 for _ in range(n)] for _ in range(n)]
    b = [[(rnd.next() & 15) - 8 for _ in range(n)] for _ in range(n)]
    for _ in range(scale):
        c = [[sum(a[i][k] * b[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
        for i in range(n):
            for j in range(n):
                h = ((h * 33) ^ c[i][j]) & MASK32
                a[i][j] = (c[i][j] & 0xFF) - 128
    return h


def hash_(scale: int) -> int:
    rnd = Lcg()
    buf = bytearray(rnd.next() & 0xFF for _ in range(4096))
    fnv = total = 0
    for p in range(scale):
        fnv, d = 2166136261, 5381
        for byte in buf:
            fnv = ((fnv ^ byte) * 16777619) & MASK32
            d = (d * 33 + byte) & MASK32
        total += d
        buf[p * 61 % 4096] = (fnv ^ d) & 0xFF
    return (fnv + 3 * total) & MASK32


def bsort(scale: int) -> int:
    rnd, h = Lcg(), 0
    for _ in range(scale):
        for v in sorted(signed(rnd.next(), 16) for _ in range(250)):
            h = (h * 9 + v) & MASK32
    return h


def itoa(scale: int) -> int:
    rnd, h, total = Lcg(), 0, 0
    for _ in range(scale * 1000):
        rnd.next()
        text = str(signed(rnd.x)).encode()
        for c in text:
            h = (h * 31 + c) & MASK32
        total += len(text)
    return (h ^ total) & MASK32


ALPHABET = b"abcdefghijklmnopqrstuvwxyz    0123456789    ,.;:!?()\n\n\nABCDEFGHI"


def fsm(scale: int) -> int:
    assert len(ALPHABET) == 64
    rnd = Lcg()
    words = numbers = punct = lines = total = 0
    for _ in range(scale):
        text = bytes(ALPHABET[rnd.next() & 63] for _ in range(4096))
        words += len(re.findall(rb"[a-zA-Z]+", text))
        found = re.findall(rb"[0-9]+", text)
        numbers += len(found)
        total += sum(int(f) for f in found)
        punct += sum(text.count(c) for c in b",.;:!?()")
        lines += text.count(b"\n")
    return (words * 7 + numbers * 131 + punct * 1009 + lines * 9973 + total) & MASK32


def gcd(scale: int) -> int:
    rnd, h = Lcg(), 0
    for _ in range(scale * 1000):
        a = rnd.next()
        b = (rnd.next() & 0xFFFF) + 1
        n, d = signed(a), signed(b | 1)
        q = abs(n) // abs(d)
        h += math.gcd(a, b) + a % b + ((-q if (n < 0) != (d < 0) else q) & MASK32)
    return h & MASK32


MODELS = {"qsort": qsort, "matmul": matmul, "hash": hash_, "bsort": bsort, "itoa": itoa,
          "fsm": fsm, "gcd": gcd}


def expected_output(kind: str, scale: int) -> bytes:
    """What C guest ``kind`` prints at ``scale``: the checksum in hex and a newline."""
    return b"%08x\n" % MODELS[kind](scale)
