"""GNU as sources for Arm (A32, UAL) on keystone (``KS_ARCH_ARM``), for a
machine without ``arm-none-eabi-as``: each line rewritten into what
keystone reads, one line for one, so line numbers stay exact, and so that
what both read assembles to the same bytes as GNU as and ld make.

keystone's Arm parser is LLVM MC's.  Where it differs from GNU as (GNU as
manual, "ARM Dependent Features"), this front end rewrites:

* ``@`` comments ("Arm-Chars"): removed;
* numeric local labels (``1:``, ``b 1b``, ``bne 2f``; "Local Labels"):
  each definition gets a name of its own, and each reference names the
  definition it means -- the last before it (``b``) or the next after it
  (``f``);
* names ``.equ``/``.set`` give a number: replaced by the number (keystone
  takes no name in an ``[rN, #offset]`` operand, nor one defined later);
* the pre-UAL ("divided") forms GNU as also takes, condition before the
  size or mode (``streqb``, ``ldmeqia``, ``addeqs``): written in UAL order
  (``strbeq``, ``ldmiaeq``, ``addseq``);
* ``ldr rN, =value`` ("ARM Opcodes", LDR): a constant that MOV or MVN can
  hold becomes that instruction; anything else is a word of the literal
  pool, each distinct value once, dumped at the next ``.ltorg``/``.pool``
  and after the last line, aligned to a word, as GNU as does;
* ``.align``/``.p2align N`` (2**N bytes on Arm) and ``.balign N`` pad with
  zeros (or the fill value given), as GNU as pads a gap after data
  (keystone ignores a fill value in code); GNU as pads a whole-word gap
  after code with NOPs, this front end with zeros (``andeq r0, r0, r0``,
  which does nothing either);
* ``.global``/``.globl``: dropped -- every label is in the one image (and
  keystone writes 0 for a ``.word`` naming a global label);
* sections: keystone assembles one stream of bytes from the image's first
  byte (and its Arm parser crashes on ``.text``), so ``.text`` is dropped
  and any other section (``.data``, ``.bss``, ``.section``) is refused in
  one line -- GNU as and ld lay out sections.

Anything keystone cannot assemble is an error naming the file and line
(:func:`emu.asm.keystone.assemble`).
"""

from __future__ import annotations

import re

from . import keystone
from .base import TIMEOUT, Image, ImageError

_CONDS = "eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al"
_LABELS = r"^(\s*(?:[\w.$]+:\s*)*)"
_LOCAL_DEF = re.compile(r"^(\s*)(\d+):")
_LOCAL_REF = re.compile(r"(?<![\w.$])(\d+)([bf])(?![\w.$])")
_EQU = re.compile(r"^\s*\.(?:equ|set)\s+([\w.$]+)\s*,\s*(-?(?:0[xX][0-9a-fA-F]+|\d+))\s*$", re.I)
_NAME = re.compile(r"(?<![\w.$'])[A-Za-z_.$][\w.$]*")
_LDR_CONST = re.compile(_LABELS + rf"ldr({_CONDS})?(\s+)(\w+)\s*,\s*=\s*(.+?)\s*$", re.I)
_POOL = re.compile(_LABELS + r"\.(?:ltorg|pool)\s*$", re.I)
_ALIGN = re.compile(_LABELS + r"\.(align|balign|p2align)\s+(\w+)\s*(?:,\s*([-\w]+)\s*)?$", re.I)
_GLOBAL = re.compile(_LABELS + r"\.(?:global|globl)\b.*$", re.I)
_SECTION = re.compile(_LABELS + r"(\.text|\.data|\.bss|\.rodata|\.section|\.pushsection)\b(.*)$")
#: pre-UAL: the condition before the size/mode suffix, or before S
_DIVIDED = (
    re.compile(_LABELS + rf"(ldr|str)({_CONDS})(sb|sh|bt|b|h|t|d)(?=\s)", re.I),
    re.compile(_LABELS + rf"(ldm|stm)({_CONDS})(ia|ib|da|db|fd|ed|fa|ea)(?=\s)", re.I),
    re.compile(_LABELS + rf"(swp)({_CONDS})(b)(?=\s)", re.I),
    re.compile(_LABELS + rf"(and|eor|sub|rsb|add|adc|sbc|rsc|orr|mov|bic|mvn|mul|mla|umull|umlal|"
                         rf"smull|smlal)({_CONDS})(s)(?=\s)", re.I),
)


def strip_comment(line: str) -> str:
    """The line without its ``@`` or ``//`` comment (quotes respected)."""
    out, quote, k = [], None, 0
    while k < len(line):
        ch = line[k]
        if quote:
            out.append(ch)
            if ch == "\\" and k + 1 < len(line):
                out.append(line[k + 1])
                k += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        elif ch == "@" or line.startswith("//", k):
            break
        else:
            out.append(ch)
        k += 1
    return "".join(out)


def _rotatable(v: int) -> bool:
    """``v`` is an A32 modified immediate: 8 bits rotated right by an even
    amount (ARM DDI 0406C A5.2.4)."""
    return any(((v << r | v >> (32 - r)) & 0xFFFFFFFF) < 256 for r in range(0, 32, 2))


def _local_name(n: str, k: int) -> str:
    return f"__kasou_local_{n}_{k}"


class _Translation:
    """The state of one source's rewriting: numeric names, local label
    definitions, the literal pool being filled."""

    def __init__(self, lines: list):
        self.lines = lines
        self.defs = {}                  # number -> [line index of each definition]
        for i, text in enumerate(lines):
            m = _LOCAL_DEF.match(text)
            if m:
                self.defs.setdefault(m.group(2), []).append(i)
        # .equ/.set name -> its number (as written): the definition before the
        # line, or for a name used before it is defined (GNU as allows it), the first
        self.names = {}
        for text in reversed(lines):
            m = _EQU.match(text)
            if m:
                self.names[m.group(1)] = m.group(2)
        self.defined = set()            # the names defined so far
        self.pool = {}                  # value text -> its label, until the next dump
        self.literals = 0

    def line(self, i: int, text: str, where: str, n: int) -> str:
        s = _SECTION.match(text)
        if s and s.group(2) == ".text" and not s.group(3).strip():
            text = text[:s.start(2)]
        elif s:
            raise ImageError(f"{where}:{n}: keystone assembles one section, from the image's "
                             f"first byte: '{text.strip()}' needs GNU as and ld "
                             f"(arm-none-eabi-as; make deps installs it)")
        m = _GLOBAL.match(text)
        if m:
            return m.group(1)
        m = _EQU.match(text)
        if m:
            self.names[m.group(1)] = m.group(2)
            self.defined.add(m.group(1))
            return text
        text = self._ldr_constant(text)
        text = self._numbers(text)
        for pattern in _DIVIDED:
            text = pattern.sub(lambda k: k.group(1) + k.group(2) + k.group(4) + k.group(3), text)
        m = _LOCAL_DEF.match(text)
        head = ""
        if m:
            head = m.group(1) + _local_name(m.group(2), self.defs[m.group(2)].index(i)) + ":"
            text = text[m.end():]
        text = head + _LOCAL_REF.sub(lambda r: self._local_ref(r, i, where, n), text)
        m = _POOL.match(text)
        if m:
            return m.group(1) + self.dump()
        return self._align(text)

    def _numbers(self, text: str) -> str:
        """``text`` with every name ``.equ`` gave a number replaced by it."""
        if not self.names:
            return text
        return _NAME.sub(lambda k: self.names.get(k.group(0), k.group(0)), text)

    def _local_ref(self, r, i, where, n) -> str:
        at = self.defs.get(r.group(1), [])
        k = sum(1 for d in at if d <= i) - (r.group(2) == "b")
        if not 0 <= k < len(at):
            raise ImageError(f"{where}:{n}: local label {r.group(1)}{r.group(2)} has no "
                             f"definition {'before' if r.group(2) == 'b' else 'after'} it")
        return _local_name(r.group(1), k)

    def _ldr_constant(self, text: str) -> str:
        m = _LDR_CONST.match(text)
        if not m:
            return text
        head, cond, space, reg, value = m.groups()
        cond = cond or ""
        # a name defined further on is not known yet: GNU as puts it in the pool
        known = self.names[value] if value in self.defined else value
        try:
            v = int(known, 0) & 0xFFFFFFFF
        except ValueError:
            v = None
        if v is not None and _rotatable(v):
            return f"{head}mov{cond}{space}{reg}, #{v:#x}"
        if v is not None and _rotatable(~v & 0xFFFFFFFF):
            return f"{head}mvn{cond}{space}{reg}, #{~v & 0xFFFFFFFF:#x}"
        key = " ".join(self._numbers(value).split())
        label = self.pool.get(key)
        if label is None:
            label = self.pool[key] = f"__kasou_literal_{self.literals}"
            self.literals += 1
        return f"{head}ldr{cond}{space}{reg}, {label}"

    @staticmethod
    def _align(text: str) -> str:
        m = _ALIGN.match(text)
        if not m:
            return text
        head, kind, amount, fill = m.groups()
        try:
            n = int(amount, 0)
        except ValueError:
            return text
        size = n if kind.lower() == "balign" else 1 << n
        if size & (size - 1) or not 0 < size <= 1 << 16:
            return text                 # keystone's own message for it
        return f"{head}.fill (-.) & {size - 1:#x}, 1, {fill or 0}"

    def dump(self) -> str:
        """The literal pool so far, word-aligned, as one line; it is empty after."""
        if not self.pool:
            return ""
        words = "; ".join(f"{label}: .word {value}" for value, label in self.pool.items())
        self.pool = {}
        return f".fill (-.) & 3, 1, 0; {words}"


def translate(flat: list) -> list:
    """The expanded source ``[(text, file, line)]`` in keystone's syntax,
    the last literal pool after it (at line 0: no source line of its own)."""
    lines = [strip_comment(text) for text, _, _ in flat]
    t = _Translation(lines)
    out = [(t.line(i, text, where, n), where, n)
           for i, ((_, where, n), text) in enumerate(zip(flat, lines))]
    out.append((t.dump(), flat[-1][1] if flat else "<source>", 0))
    return out


def assemble(source: str, name: str, base: int, timeout: float = TIMEOUT) -> Image:
    """Assemble the Arm GNU as source ``source`` (read from ``name``) for
    address ``base``: a raw image, its labels and its line map (literal
    pools belong to no line, as in GNU as's line table)."""
    img = keystone.assemble(source, name, base, "arm", 32, timeout, translate=translate)
    img.symbols = {k: v for k, v in img.symbols.items() if not k.startswith("__kasou_")}
    pools = {(f, n) for f, lines in img.sources.items() for n, text in enumerate(lines, 1)
             if _POOL.match(strip_comment(text))}
    img.lines = {a: loc for a, loc in img.lines.items() if loc[1] and loc not in pools}
    return img
