"""NASM sources on keystone, for a machine without ``nasm``: each line
rewritten into kasou's keystone dialect (one line for one, so line numbers
stay exact), with NASM's meaning (NASM manual ch. 3, "The NASM Language").

Covered: ``org``, ``bits``/``[bits]``, labels with or without a colon,
local labels (``.loop`` after ``start`` is ``start.loop``), ``db``/``dw``/
``dd``/``dq`` with strings, ``equ``, ``times`` (its count may use ``$`` and
``$$``: evaluated from the addresses of the last pass), ``resb``/``resw``/
``resd``/``resq`` (zeros, as in a ``bin`` file), ``align``/``alignb``,
``incbin`` (next to the source), ``%define`` without parameters,
``%include``, ``$``/``$$``, NASM's number forms (``0FFh``, ``1010b``,
``17q``), character constants, ``[es:bx]``, ``byte``/``word`` on memory
operands, ``short``, ``near`` (in 16-bit code) and ``jmp SEG:OFF``.

Anything else NASM has (``%macro``, ``%if``, ``%rep``, ``%assign``,
``section``, ``struc``, ...) is refused in one line naming the file and
line -- never assembled to something else.
"""

from __future__ import annotations

import re

from . import keystone
from .base import TIMEOUT, Image, ImageError
from .keystone import BASE_LABEL, split_operands, string_bytes, strip_comment

_SIZES = {"db": 1, "dw": 2, "dd": 4, "dq": 8, "resb": 1, "resw": 2, "resd": 4, "resq": 8}
_IGNORED = ("global", "extern", "default", "cpu", "[cpu", "[map", "[list", "[warning", "warning")
_REFUSED = ("section", "segment", "[section", "[segment", "absolute", "[absolute", "struc",
            "endstruc", "istruc", "iend", "at", "dt", "do", "dy", "dz", "rest", "reso", "resy",
            "resz", "o16", "o32", "o64", "a16", "a32", "a64", "strict", "common", "static")
_OWN_SIZE = {16: "word ", 32: "dword ", 64: "qword "}
_SREGS = ("ds", "es", "ss", "fs", "gs")
_BRANCHES = ("jmp", "call", "loop", "loope", "loopne", "loopz", "loopnz", "jcxz", "jecxz") \
    + tuple(keystone.JCC)
_ORG = re.compile(r"^\s*\[?\s*org\s+([^\]]+?)\s*\]?\s*$", re.I)
_BITS = re.compile(r"^\s*\[?\s*(?:bits\s+(16|32|64)|use(16|32))\s*\]?\s*$", re.I)
_DEFINE = re.compile(r"^\s*%(x?i?define)\s+([A-Za-z_.$?][\w.$?#@~]*)(\(?)\s*(.*)$", re.I)
_UNDEF = re.compile(r"^\s*%undef\s+(\S+)\s*$", re.I)
_WORD = re.compile(r"[A-Za-z_.$?@][\w.$?#@~]*|\d[\w]*|'[^']*'|\"[^\"]*\"|`[^`]*`|\S")
_IDENT = re.compile(r"^[A-Za-z_.?][\w.$?#@~]*$")


def _number(tok: str) -> str | None:
    """A NASM number token as 0x..., or None if it is not one."""
    t = tok.replace("_", "").lower()
    try:
        if re.fullmatch(r"0[xh][0-9a-f]+", t):
            return hex(int(t[2:], 16))
        if re.fullmatch(r"[0-9][0-9a-f]*h", t):
            return hex(int(t[:-1], 16))
        if re.fullmatch(r"0[by][01]+", t):
            return hex(int(t[2:], 2))
        if re.fullmatch(r"[01]+[by]", t):
            return hex(int(t[:-1], 2))
        if re.fullmatch(r"0[oq][0-7]+", t):
            return hex(int(t[2:], 8))
        if re.fullmatch(r"[0-7]+[oq]", t):
            return hex(int(t[:-1], 8))
        if re.fullmatch(r"0d[0-9]+", t):
            return hex(int(t[2:]))
        if re.fullmatch(r"[0-9]+d?", t):
            return hex(int(t.rstrip("d")))
    except ValueError:
        return None
    return None


class _Translator:
    """NASM lines into the keystone dialect, in source order (local labels
    and ``%define`` depend on what came before)."""

    def __init__(self, bits: int):
        self.defines = {}
        self.last = None            # the last non-local label
        self.bits = bits
        self.here = 0               # names for the targets of branches to $

    def line(self, text: str, where: str, n: int) -> str:
        def refuse(what):
            raise ImageError(f"{where}:{n}: NASM's {what} is beyond the keystone fallback "
                             "(nasm is not installed: make deps installs it)")
        line = strip_comment(text).strip()
        if not line:
            return ""
        m = _DEFINE.match(line)
        if m:
            if m.group(3) or m.group(1).lower() != "define":
                refuse(f"%{m.group(1).lower()}{' with parameters' if m.group(3) else ''}")
            self.defines[m.group(2)] = m.group(4).strip()
            return ""
        m = _UNDEF.match(line)
        if m:
            self.defines.pop(m.group(1), None)
            return ""
        if line.startswith("%"):
            refuse(line.split()[0])
        first = line.split()[0].lower()
        if _ORG.match(line):
            return ""
        m = _BITS.match(line)
        if m:
            self.bits = int(m.group(1) or m.group(2))
            return f".code{self.bits}"
        if first in _IGNORED:
            return ""
        if first in _REFUSED:
            refuse(f"'{first.strip('[')}'")
        return self._statement(line, where, n, refuse)

    def _statement(self, line, where, n, refuse) -> str:
        parts = line.split(None, 1)
        label = None
        if parts[0].endswith(":"):
            label, line = parts[0][:-1], (parts[1] if len(parts) > 1 else "")
        elif len(parts) > 1 and _IDENT.match(parts[0]) \
                and parts[1].split(None, 1)[0].lower() in (*_SIZES, "times", "equ"):
            label, line = parts[0], parts[1]
        out = ""
        if label is not None:
            label = self._label(label, define=True)
            out = f"{label}:"
        parts = line.split(None, 1)
        if not parts:
            return out
        head, rest = parts[0].lower(), (parts[1] if len(parts) > 1 else "")
        if head == "equ":
            if label is None:
                refuse("equ without a label")
            return f".set {label}, {self._expr(rest, where, n, refuse)}"
        body = self._body(head, rest, where, n, refuse)
        return f"{out} {body}".strip()

    def _body(self, head, rest, where, n, refuse) -> str:
        if head in _REFUSED:
            refuse(f"'{head}'")
        if head == "times":
            at = _statement_start(rest)
            count = self._expr(rest[:at], where, n, refuse)
            stmt = rest[at:]
            parts = stmt.split(None, 1)
            if not parts:
                refuse("times without a statement")
            sub, arg = parts[0].lower(), (parts[1] if len(parts) > 1 else "")
            if sub in ("db", "dw", "dd", "dq") and len(split_operands(arg)) == 1 \
                    and string_bytes(arg.strip()) is None:
                return f".fill {count}, {_SIZES[sub]}, {self._expr(arg, where, n, refuse)}"
            body = self._body(sub, arg, where, n, refuse)
            if sub in ("db", "dw", "dd", "dq"):
                body = keystone.data_line(sub, body.split(None, 1)[1])
            return f".rept {count}; {body}; .endr"
        if head in ("resb", "resw", "resd", "resq"):
            return f".fill {self._expr(rest, where, n, refuse)}, {_SIZES[head]}, 0"
        if head in ("align", "alignb"):
            ops = split_operands(rest)
            if len(ops) > 1:
                refuse("align with a fill statement")
            size = self._expr(ops[0], where, n, refuse)
            # NASM pads from the section start with NOPs (align) or zeros (alignb)
            return f".fill (({size}) - ((. - {BASE_LABEL}) % ({size}))) % ({size}), 1, " \
                   f"{'0x90' if head == 'align' else '0'}"
        if head == "incbin":
            return self._incbin(rest, where, n, refuse)
        if head in ("db", "dw", "dd", "dq"):
            ops = [o if string_bytes(o) is not None else self._expr(o, where, n, refuse)
                   for o in split_operands(rest)]
            return f"{head} {', '.join(ops)}"
        ops = split_operands(rest) if rest.strip() else []
        if head in ("jmp", "call") + tuple(keystone.JCC) and ops:
            op = ops[0].strip()
            low = op.lower()
            if low.startswith("near "):
                if self.bits != 16:
                    refuse("'near' outside 16-bit code")
                return f"{head} near {self._expr(op[5:], where, n, refuse)}"
            elif head in ("jmp", "call") and "[" not in op and ":" in op \
                    and not low.startswith("far "):
                op = "far " + op
            ops[0] = op
        ops = [self._expr(o, where, n, refuse, chars=True) for o in ops]
        if head == "push" and ops and ops[0].lower().startswith(_OWN_SIZE[self.bits]):
            ops[0] = ops[0].split(None, 1)[1]           # keystone adds a 66 prefix for it
        if head == "mov" and len(ops) == 2 and self.bits != 16 \
                and ops[0].lower() in _SREGS and ops[1].lower() in keystone.REGISTERS \
                and len(ops[1]) == 2:
            ops[1] = "e" + ops[1]                      # MOV Sreg, r/m16 without a 66 prefix
        if head in _BRANCHES and ops and keystone.DOT.search(ops[0]):
            self.here += 1
            name = f"__kasou_here_{self.here}"        # keystone takes no '.' in a branch target
            return f".set {name}, {ops[0]}; {head} {name}"
        return f"{head} {', '.join(ops)}".strip()

    def _incbin(self, rest, where, n, refuse) -> str:
        ops = split_operands(rest)
        name = string_bytes(ops[0].strip())
        if name is None:
            refuse("incbin without a quoted file name")
        path = keystone.find_include(name.decode(), where)
        if path is None:
            raise ImageError(f"{where}:{n}: incbin: cannot find '{name.decode()}' (looked next "
                             "to the source and in the guest library)")
        with open(path, "rb") as f:
            data = f.read()
        try:
            skip = int(_number(ops[1].strip()) or "x", 0) if len(ops) > 1 else 0
            size = int(_number(ops[2].strip()) or "x", 0) if len(ops) > 2 else len(data)
        except ValueError:
            refuse("incbin with a computed offset or length")
        data = data[skip:skip + size]
        return ".byte " + ", ".join(f"{b:#x}" for b in data) if data else ""

    def _label(self, name: str, define: bool = False) -> str:
        if name.startswith("..@"):
            return name
        if name.startswith("."):
            return f"{self.last or ''}{name}"
        if define:
            self.last = name
        return name

    def _expr(self, text: str, where, n, refuse, chars: bool = False) -> str:
        """Defines expanded, numbers as 0x..., ``$`` as ``.``, ``$$`` as the
        image's first byte, local labels qualified, and (``chars``) a
        character constant as its number."""
        for _ in range(8):
            expanded = _WORD.sub(lambda m: self.defines.get(m.group(0), m.group(0)), text)
            if expanded == text:
                break
            text = expanded
        out = []
        pos = 0
        for m in _WORD.finditer(text):
            tok = m.group(0)
            out.append(text[pos:m.start()])
            pos = m.end()
            if tok == "$$":
                out.append(BASE_LABEL)
            elif tok.startswith("$") and len(tok) > 1 and tok[1].isdigit():
                out.append(hex(int(tok[1:], 16)))
            elif tok == "$":
                out.append(".")
            elif tok[0].isdigit():
                num = _number(tok)
                if num is None:
                    refuse(f"number '{tok}'")
                out.append(num)
            elif tok[0] in "'\"`" and chars:
                value = string_bytes(tok)
                if value is None or len(value) > 8:
                    refuse(f"character constant {tok}")
                out.append(hex(int.from_bytes(value, "little")))
            elif tok[0] == "." and len(tok) > 1:
                out.append(self._label(tok))
            else:
                out.append(tok)
        out.append(text[pos:])
        return "".join(out).strip()


def _statement_start(text: str) -> int:
    """Where the statement after a ``times`` count starts: the first name
    that follows a complete operand (``times 510 - ($ - $$) db 0``)."""
    operand_done = False
    for m in _WORD.finditer(text):
        tok = m.group(0)
        if operand_done and (tok[0].isalpha() or tok[0] == "_"):
            return m.start()
        operand_done = tok not in "+-*/%<>&|^~(" and tok not in ("<<", ">>", "//")
    return len(text)


def _org(lines: list, name: str) -> int | None:
    org = None
    for n, text in enumerate(lines, 1):
        m = _ORG.match(strip_comment(text))
        if m:
            value = _number(m.group(1).strip())
            if value is None:
                raise ImageError(f"{name}:{n}: org {m.group(1).strip()}: the keystone fallback "
                                 "takes a plain number here (nasm is not installed: make deps "
                                 "installs it)")
            if org is not None and org != int(value, 0):
                raise ImageError(f"{name}:{n}: program origin redefined")
            org = int(value, 0)
    return org


def assemble(text: str, path: str, base: int = 0x7C00, bits: int = 16,
             timeout: float = TIMEOUT) -> Image:
    """The NASM source ``text`` (from ``path``) assembled by keystone."""
    org = _org(text.splitlines(), path) or 0
    translator = _Translator(bits)

    def translate(flat):
        return flat[:1] + [(translator.line(t, w, n), w, n) for t, w, n in flat[1:]]
    img = keystone.assemble(text, path, base, "x86", bits, timeout, translate=translate, org=org)
    img.assembler += " (nasm is not installed)"
    return img
