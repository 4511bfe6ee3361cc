"""The debugger's expressions: the simple cases of gdb's C expression evaluator.

What ``print``, ``x``, ``break``, ``watch``, ``set`` and ``display`` read
(GDB manual, "Expressions" and "Variables"; C's operator precedence):

* numbers (``0x1f``, ``31``, ``017`` octal, ``'A'``), labels of the guest
  (a label's value is its address, as ``&label``), ``$registers``;
* unary ``- + ~ !``, ``&X`` (the address of a label or of memory),
  ``*X`` (the contents of a pointer; ``*ADDR`` on a plain number is the
  location ADDR, as in ``break *0x7c00``);
* casts ``(TYPE)X`` and ``(TYPE *)X`` and gdb's ``{TYPE} ADDR``, for TYPE one
  of char, short, int, long, long long (signed, unsigned), int8_t..int64_t,
  uint8_t..uint64_t, and the x86 names byte, word, dword, qword;
* binary ``* / % + - << >> & ^ |`` with C's precedence, pointer arithmetic
  counting in elements (``(short *)buf + 1`` is buf+2);
* ``SEG:OFF`` at the outside, on an architecture with segmented addresses
  (x86's real-mode segment:offset, ``(SEG << 4) + OFF``).

The evaluator gets its labels, registers, memory, the mode's width of
``long`` and the meaning of ``SEG:OFF`` from the caller (the REPL hands it
the session's and its debug adapter's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .session import DebugError

#: integer types: name -> (size in bytes or None for "long", signed)
TYPES = {"char": (1, True), "signed char": (1, True), "unsigned char": (1, False),
         "short": (2, True), "short int": (2, True), "signed short": (2, True),
         "unsigned short": (2, False), "unsigned short int": (2, False),
         "int": (4, True), "signed": (4, True), "signed int": (4, True),
         "unsigned": (4, False), "unsigned int": (4, False),
         "long": (None, True), "long int": (None, True), "signed long": (None, True),
         "unsigned long": (None, False), "unsigned long int": (None, False),
         "long long": (8, True), "long long int": (8, True), "signed long long": (8, True),
         "unsigned long long": (8, False), "unsigned long long int": (8, False),
         "int8_t": (1, True), "int16_t": (2, True), "int32_t": (4, True), "int64_t": (8, True),
         "uint8_t": (1, False), "uint16_t": (2, False), "uint32_t": (4, False),
         "uint64_t": (8, False),
         "byte": (1, False), "word": (2, False), "dword": (4, False), "qword": (8, False)}
TYPE_WORDS = {w for name in TYPES for w in name.split()}

_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)|('(?:\\.|[^\\'])')|(\$[\w]+)|"
                    r"([A-Za-z_.][\w.$]*)|(<<|>>|[-+*/%&|^~!(){}]))")


@dataclass(frozen=True)
class CType:
    """An integer type: size in bytes and signedness."""

    name: str
    size: int
    signed: bool

    def fit(self, v: int) -> int:
        v &= (1 << (8 * self.size)) - 1
        if self.signed and v >> (8 * self.size - 1):
            v -= 1 << (8 * self.size)
        return v


@dataclass
class Value:
    """A value; ``points_to`` the type a pointer points to (None: an
    integer); ``lval`` (address, type or None) when it is in memory;
    ``ctype`` its integer type when it has one (a cast, memory read)."""

    v: int
    points_to: CType | None = None
    lval: tuple | None = None
    ctype: CType | None = None
    symbol: bool = False


def parse_type(text: str, long_size: int) -> CType:
    """A type name as written in a cast (``unsigned short``)."""
    name = " ".join(text.split())
    if name not in TYPES:
        raise DebugError(f"unknown type '{name}' (expected one of: {', '.join(TYPES)})")
    size, signed = TYPES[name]
    return CType(name, size or long_size, signed)


class Evaluator:
    """``Evaluator(symbols, register, read, long_size).eval(text) -> Value``:
    ``register(name)`` and ``read(addr, n)`` raise DebugError for what does
    not exist."""

    def __init__(self, symbols: dict, register, read, long_size: int, segmented=None):
        self.symbols = symbols
        self.register = register
        self.read = read
        self.long_size = long_size
        self.segmented = segmented      # (seg, off) -> address, or None: no SEG:OFF

    def eval(self, text: str) -> Value:
        t = text.strip()
        if not t:
            raise DebugError("expected an address or a value")
        depth, colon = 0, None
        for k, ch in enumerate(t):
            if ch in "({":
                depth += 1
            elif ch in ")}":
                depth -= 1
            elif ch == ":" and depth == 0:
                colon = k
                break
        if colon is not None:
            if self.segmented is None:
                raise DebugError(f"A syntax error in expression, near `{t[colon:]}' "
                                 "(this architecture has no SEG:OFF addresses).")
            seg, off = self.eval(t[:colon]), self.eval(t[colon + 1:])
            return Value(self.segmented(seg.v, off.v))
        self.tokens = self._tokenize(t)
        self.k = 0
        v = self._binary(0)
        if self.k < len(self.tokens):
            raise DebugError(f"A syntax error in expression, near `{self._rest()}'.")
        return v

    # -- lexing -----------------------------------------------------------------------
    @staticmethod
    def _tokenize(t: str) -> list:
        out = []
        pos = 0
        while pos < len(t):
            if t[pos:].strip() == "":
                break
            m = _TOKEN.match(t, pos)
            if m is None:
                raise DebugError(f"Invalid character '{t[pos:].strip()[0]}' in expression "
                                 f"'{t}'.")
            kinds = ("num", "char", "reg", "name", "op")
            kind = next(kinds[i] for i in range(5) if m.group(i + 1) is not None)
            out.append((kind, m.group(m.lastindex)))
            pos = m.end()
        return out

    def _peek(self, k: int = 0):
        i = self.k + k
        return self.tokens[i] if i < len(self.tokens) else (None, None)

    def _rest(self) -> str:
        return " ".join(t for _, t in self.tokens[self.k:])

    def _expect(self, op: str) -> None:
        if self._peek() != ("op", op):
            raise DebugError(f"A syntax error in expression, near `{self._rest()}'.")
        self.k += 1

    # -- grammar ----------------------------------------------------------------------
    LEVELS = (("|",), ("^",), ("&",), ("<<", ">>"), ("+", "-"), ("*", "/", "%"))

    def _binary(self, level: int) -> Value:
        if level == len(self.LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while True:
            kind, tok = self._peek()
            if kind != "op" or tok not in self.LEVELS[level]:
                return left
            self.k += 1
            right = self._binary(level + 1)
            left = self._apply(tok, left, right)

    def _apply(self, op: str, a: Value, b: Value) -> Value:
        x, y = a.v, b.v
        if op in "+-" and a.points_to is not None and b.points_to is None:
            y *= a.points_to.size                 # pointer arithmetic counts elements
            r = x + y if op == "+" else x - y
            return Value(r & ((1 << 64) - 1), points_to=a.points_to)
        if op in "+-" and b.points_to is not None and a.points_to is None and op == "+":
            return Value(x * b.points_to.size + y, points_to=b.points_to)
        if op in "/%" and y == 0:
            raise DebugError("Division by zero")
        r = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y,
             "/": lambda: int(x / y), "%": lambda: x - int(x / y) * y,
             "<<": lambda: x << y, ">>": lambda: x >> y,
             "&": lambda: x & y, "|": lambda: x | y, "^": lambda: x ^ y}[op]()
        return Value(r)

    def _cast_ahead(self, close: str):
        """After an opening ( or {: a type name and stars, then ``close``:
        returns (type, pointer) and moves past them, or None."""
        k = 0
        words = []
        while self._peek(k)[0] == "name" and self._peek(k)[1] in TYPE_WORDS:
            words.append(self._peek(k)[1])
            k += 1
        if not words:
            kind, tok = self._peek()
            while self._peek(k + 1) == ("op", "*"):
                k += 1
            if kind == "name" and tok not in self.symbols and self._peek(k + 1) == ("op", close):
                raise DebugError(f"unknown type '{tok}' (expected one of: {', '.join(TYPES)})")
            return None
        stars = 0
        while self._peek(k) == ("op", "*"):
            stars += 1
            k += 1
        if len(words) == 1 and words[0] in self.symbols and not stars:
            return None                   # (word) of a label named like a type is the label
        if self._peek(k) != ("op", close):
            if self._peek(k)[0] == "name" and close == ")":
                raise DebugError(f"unknown type '{' '.join(words + [self._peek(k)[1]])}' "
                                 f"(expected one of: {', '.join(TYPES)})")
            return None
        if stars > 1:
            raise DebugError("pointers to pointers are not supported in casts")
        self.k += k + 1
        return parse_type(" ".join(words), self.long_size), bool(stars)

    def _unary(self) -> Value:
        kind, tok = self._peek()
        if kind == "op" and tok in ("-", "+", "~", "!"):
            self.k += 1
            v = self._unary()
            r = {"-": -v.v, "+": v.v, "~": ~v.v, "!": int(not v.v)}[tok]
            return Value(v.ctype.fit(r) if v.ctype else r, ctype=v.ctype)
        if kind == "op" and tok == "*":
            self.k += 1
            return self._deref(self._unary())
        if kind == "op" and tok == "&":
            self.k += 1
            v = self._unary()
            if v.lval is not None:
                return Value(v.lval[0], points_to=v.lval[1])
            if v.symbol:
                return Value(v.v)
            raise DebugError("Attempt to take address of value not located in memory.")
        if kind == "op" and tok == "{":
            self.k += 1
            cast = self._cast_ahead("}")
            if cast is None or cast[1]:
                raise DebugError(f"expected {{TYPE}} ADDR, TYPE one of: {', '.join(TYPES)}")
            addr = self._unary()
            return self._deref(Value(addr.v, points_to=cast[0]))
        if kind == "op" and tok == "(":
            self.k += 1
            cast = self._cast_ahead(")")
            if cast is not None:
                ctype, pointer = cast
                v = self._unary()
                if pointer:
                    return Value(v.v, points_to=ctype)
                return Value(ctype.fit(v.v), ctype=ctype)
            v = self._binary(0)
            self._expect(")")
            return v
        return self._primary()

    def _deref(self, p: Value) -> Value:
        if p.points_to is None:
            # *ADDR of a plain number: the location ADDR (break *0x7c00,
            # watch *0x500); its size is the command's to choose
            return Value(p.v, lval=(p.v, None))
        t = p.points_to
        data = self.read(p.v, t.size)
        return Value(t.fit(int.from_bytes(data, "little")), lval=(p.v, t), ctype=t)

    def _primary(self) -> Value:
        kind, tok = self._peek()
        if kind is None:
            raise DebugError("A syntax error in expression, near `'.")
        self.k += 1
        if kind == "num":
            return Value(int(tok, 8) if len(tok) > 1 and tok[0] == "0" and tok[1] in "01234567"
                         else int(tok, 0))
        if kind == "char":
            body = tok[1:-1]
            return Value(ord(body.encode("latin-1").decode("unicode_escape")))
        if kind == "reg":
            return Value(self.register(tok[1:]))
        if kind == "name":
            if tok in self.symbols:
                return Value(self.symbols[tok], symbol=True)
            known = ", ".join(sorted(self.symbols)) or "none"
            raise DebugError(f'No symbol "{tok}" in current context (labels: {known}).')
        raise DebugError(f"A syntax error in expression, near `{tok} {self._rest()}'.".replace(" '", "'"))
