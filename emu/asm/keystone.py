"""keystone, the in-process assembler: kasou's own dialect of ``.S`` files,
and the fallback for NASM sources when ``nasm`` is not installed.

The dialect is keystone's Intel syntax (LLVM MC: GNU-as directives such as
``.code32``, ``.byte``, ``.fill``), 16-bit code first, plus what learners
know from NASM, rewritten line by line so line numbers stay exact:

- ``; comment`` (keystone itself only knows ``#``)
- ``db`` / ``dw`` / ``dd`` / ``dq`` -> ``.byte`` / ``.word`` / ``.long`` /
  ``.quad``; a quoted string in ``db`` is its bytes, as NASM has it (no
  escapes in '...' or "...")
- ``bits 16`` / ``[bits 32]`` -> ``.code16`` / ``.code32``
- ``word [x]`` -> ``word ptr [x]`` (keystone silently assembles nothing for
  the NASM form), ``[es:bx]`` -> ``es:[bx]``
- ``jmp far SEG:OFF`` / ``call far SEG:OFF`` -> the EA / 9A encodings, with
  a 16-bit offset in 16-bit code and a 32-bit one in 32-bit code
- ``.include "FILE"`` / ``%include "FILE"``: the file's lines in place,
  looked up next to the including file, then in ``emu/guests/lib``

and, in 16-bit code, the 16-bit encodings where keystone writes 32-bit ones
(SDM Vol. 2A "CALL", "RET", "PUSH", "Jcc", "JMP"; Vol. 2 §2.1.5 address
size): CALL rel16, RET (imm16), PUSH imm8/imm16, JMP/Jcc rel16, far
indirect CALL/JMP m16:16, and a memory operand that names a label without a
register as ``[disp16]`` -- keystone gives it an address-size prefix (67)
and a 32-bit displacement, so ``-cpu 8086`` would run a different program.
Such an operand gets the label's value as a number, found by assembling
again until the addresses settle.

keystone runs in a forked worker (``base.in_worker``): it can loop forever
in C with signals blocked.  It can also stop at a line it does not
understand without saying so; a sentinel after the last line shows that,
and the line it stopped at is named.
"""

from __future__ import annotations

import os
import re

from .base import LIBRARY, TIMEOUT, Image, ImageError, WorkerTimeout, in_worker

_DATA = {"db": ".byte", "dw": ".word", "dd": ".long", "dq": ".quad"}
_FAR = re.compile(r"^(\s*)(jmp|call)\s+far\s+(\S+?)\s*:\s*(\S+)\s*$", re.I)
_LABEL = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\s*:")
_INCLUDE = re.compile(r"""^\s*[.%]include\s+(?:"([^"]*)"|<([^>]*)>|(\S+))\s*$""", re.I)
_CODE = re.compile(r"^\s*(?:\.code|\[?\s*bits\s+)(16|32|64)\b", re.I)
_BITS = re.compile(r"^\s*(\[)?\s*bits\s+(16|32|64|0x10|0x20|0x40)\s*(?(1)\])\s*$", re.I)
_SIZE = re.compile(r"\b(byte|word|dword|qword|tbyte|xmmword)\s+(?=(?:[cdefgs]s\s*:\s*)?\[)", re.I)
_SEG_IN = re.compile(r"\[\s*([cdefgs]s)\s*:\s*", re.I)
_BRACKET = re.compile(r"\[([^\]]*)\]")
_SENTINEL = b"KASOU-END"
_SHORT_WORD = re.compile(r"(?<=\s)short\s+(?=\S)", re.I)     # keystone takes no 'short'; checked after
_SET = re.compile(r"^\s*\.(?:set|equ)\s+([A-Za-z_.$][\w.$]*)\s*,\s*(.+)$", re.I)


def _split(text: str, sep: str) -> list:
    """``text`` cut at every ``sep`` outside quotes."""
    out, cur, quote = [], [], None
    for ch in text:
        if quote:
            cur.append(ch)
            quote = None if ch == quote else quote
        elif ch in "\"'`":
            quote = ch
            cur.append(ch)
        elif ch == sep:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def strip_comment(line: str) -> str:
    """The line without its ``;`` comment (quotes respected)."""
    return _split(line, ";")[0]


def split_operands(text: str) -> list:
    """Comma-separated operands, commas inside quotes kept."""
    return [part.strip() for part in _split(text, ",")]


REGISTERS = set("""al ah bl bh cl ch dl dh ax bx cx dx si di bp sp eax ebx ecx edx esi edi
    ebp esp rax rbx rcx rdx rsi rdi rbp rsp cs ds es ss fs gs rip eip""".split()) | {
    f"r{n}{w}" for n in range(8, 16) for w in ("", "d", "w", "b")} | {
    "sil", "dil", "bpl", "spl"}
JCC = {"jo": 0, "jno": 1, "jb": 2, "jc": 2, "jnae": 2, "jae": 3, "jnb": 3, "jnc": 3,
        "je": 4, "jz": 4, "jne": 5, "jnz": 5, "jbe": 6, "jna": 6, "ja": 7, "jnbe": 7,
        "js": 8, "jns": 9, "jp": 10, "jpe": 10, "jnp": 11, "jpo": 11, "jl": 12, "jnge": 12,
        "jge": 13, "jnl": 13, "jle": 14, "jng": 14, "jg": 15, "jnle": 15}
BASE_LABEL = "__kasou_base"
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b")
_NAME = re.compile(r"[A-Za-z_.$][\w.$]*")


def _direct(operand: str) -> bool:
    """A direct branch target or immediate: not a register, not memory."""
    op = operand.strip().lower()
    return bool(op) and "[" not in op and " ptr" not in op and op not in REGISTERS \
        and not op.startswith(("far ", "near ", "short ", "word ", "dword "))


def _rel16(opcode: str, target: str, index: int, base: int) -> str:
    """A 16-bit relative branch as bytes: keystone writes CALL rel and a JMP
    or Jcc that does not fit in 8 bits with an operand-size prefix and a
    32-bit displacement in 16-bit code (66 E8 rel32), which pushes four
    bytes and is not what ``call`` means there.  The displacement is a
    difference of two labels (the one keystone computes reliably), measured
    from the label this line gets; a plain number is made a label by adding
    it to the image's first address, ``__kasou_base``."""
    here = f"__kasou_rel_{index}"
    length = 1 + opcode.count(",") + 2
    if not _NAME.search(_HEX.sub("", target)):
        target = f"{BASE_LABEL} + ({target}) - {base:#x}"
    return f"{here}: .byte {opcode}; .word ({target}) - {here} - {length}"


_DECIMAL = re.compile(r"(?<![\w.$])(\d+)(?![\w.$])")


def hex_literals(line: str) -> str:
    """Every plain decimal literal outside quotes written as 0x...: keystone
    reads digits in a radix it never initialises (MCAsmInfo::Radix; its
    ks_option() even sets it to 16), so "mov al, 100" could assemble as 0x100
    depending on what the memory held.  A 0x literal means the same in any
    radix.  A leading 0 is octal, as in keystone's own radix 10 (LLVM)."""
    out, start, quote = [], 0, None
    for k, ch in enumerate(line):
        if quote:
            if ch == "\\":
                continue
            if ch == quote and line[k - 1] != "\\":
                out.append(line[start:k + 1])
                start, quote = k + 1, None
        elif ch in "\"'":
            out.append(_DECIMAL.sub(_hex_literal, line[start:k]))
            start, quote = k, ch
    tail = line[start:]
    out.append(tail if quote else _DECIMAL.sub(_hex_literal, tail))
    return "".join(out)


def _hex_literal(m) -> str:
    text = m.group(1)
    if text == "0":
        return text
    if text[0] == "0":
        if any(c in "89" for c in text):
            return text                 # not a number keystone would take either
        return hex(int(text, 8))
    return hex(int(text))


def string_bytes(text: str) -> bytes | None:
    """A NASM string constant's bytes ('...' and "..." as written, `...`
    with C escapes), or None when ``text`` is not one."""
    if len(text) < 2 or text[0] not in "\"'`" or text[-1] != text[0]:
        return None
    body = text[1:-1]
    if text[0] != "`":
        return body.encode("utf-8")
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None


def data_line(directive: str, rest: str) -> str:
    """``db``/``dw``/``dd``/``dq`` operands; quoted strings become bytes."""
    parts = split_operands(rest)
    if not any(string_bytes(p) is not None for p in parts):
        return f"{_DATA[directive]} {rest}"
    if directive != "db":
        raise ValueError(f"a string in {directive} is not supported here (expected it in db)")
    values = []
    for p in parts:
        s = string_bytes(p)
        values.extend(f"{b:#x}" for b in s) if s is not None else values.append(p)
    return ".byte " + ", ".join(values) if values else ""


def _absolute_operands(line: str, labels, values) -> tuple:
    """16-bit code: every ``[...]`` without a register that names a label
    gets the label's value from the last pass (0 the first time: the
    encoding, [disp16], has the same size whatever the value)."""
    used = False

    def fix(m):
        nonlocal used
        inside = m.group(1)
        names = _NAME.findall(_HEX.sub("", inside))
        if any(n.lower() in REGISTERS for n in names):
            return m.group(0)
        if not any(n in labels for n in names):
            return m.group(0)
        if values and not all(n in values for n in names if n in labels):
            return m.group(0)        # a value never found: keystone's own form, not a guess
        used = True
        return "[" + _NAME.sub(lambda n: f"{values.get(n.group(0), 0):#x}"
                               if n.group(0) in labels else n.group(0), inside) + "]"
    return _BRACKET.sub(fix, line), used


def preprocess_line(line: str, bits: int = 16, index: int = 0, near=(), base: int = 0,
                    labels=(), values=None, clean: bool = False) -> str:
    """One source line in keystone's syntax.  ``bits`` is the code size in
    force there (the far-jump offset's width depends on it, and 16-bit code
    gets its CALL, RET and PUSH imm encoded as they are in 16-bit code);
    ``index`` names the line's own labels; lines whose index is in ``near``
    get their JMP/Jcc as a 16-bit near branch; ``base`` is the address of
    the image's first byte (the label ``__kasou_base``); ``labels`` and
    ``values`` (label -> address, from the last pass) give 16-bit memory
    operands on labels their 16-bit form.  A ``clean`` line has no comment
    and may hold several statements separated by ``;`` (the NASM front
    end's output)."""
    return _preprocess_line(line, bits, index, near, base, labels, values or {}, clean)[0]


_SEG_PREFIX = {"es": 0x26, "cs": 0x2E, "ss": 0x36, "ds": 0x3E, "fs": 0x64, "gs": 0x65}


def _preprocess_line(line, bits, index, near, base, labels, values, clean=False):
    line = hex_literals(line if clean else strip_comment(line))
    if not clean:
        return _statement(line, bits, index, near, base, labels, values)
    out, used = [], False
    for stmt in _split(line, ";"):
        text, u = _statement(stmt, bits, index, near, base, labels, values)
        out.append(text)
        used |= u
    return "; ".join(t for t in out if t.strip()), used


def _statement(line, bits, index, near, base, labels, values):
    m = _BITS.match(line)
    if m:
        return f".code{int(m.group(2), 0)}", False
    m = _FAR.match(line)
    if m:
        indent, op, seg, off = m.groups()
        opcode = "0xEA" if op.lower() == "jmp" else "0x9A"
        if bits == 64:
            raise ValueError(f"there is no direct far {op.lower()} in 64-bit code "
                             f"(expected it after .code16 or .code32)")
        width = ".word" if bits == 16 else ".long"
        return f"{indent}.byte {opcode}; {width} {off}; .word {seg}", False
    line = _SIZE.sub(r"\1 ptr ", _SHORT_WORD.sub(" ", line))
    # NASM's [es:bx]: the prefix byte written out, in NASM's place (first;
    # keystone drops a DS or SS override it thinks redundant, and NASM keeps it)
    seg = _SEG_IN.search(line)
    prefix = ""
    if seg:
        prefix = f".byte {_SEG_PREFIX[seg.group(1).lower()]:#x}; "
        line = line[:seg.start()] + "[" + line[seg.end():]
    parts = line.split(None, 1)
    if not parts:
        return line, False
    head = parts[0].lower()
    label = ""
    rest = parts[1] if len(parts) > 1 else ""
    if head.endswith(":") and rest:
        label, sub = parts[0], rest.split(None, 1)
        head = sub[0].lower()
        rest = sub[1] if len(sub) > 1 else ""
    if prefix:
        label = f"{label} {prefix}".strip()
        line = f"{label} {head} {rest}".strip()
    if head in _DATA:
        return f"{label} {data_line(head, rest)}".strip(), False
    if head in (".rept", ".fill", ".skip", ".space") and _needs_values(rest, labels):
        ops = split_operands(rest)
        ops[0] = f"{_evaluate(ops[0], values.get(index, base), values, base):#x}"
        return f"{label} {head} {', '.join(ops)}".strip(), True
    if head in (".set", ".equ") or bits != 16 or head.endswith(":"):
        return line, False
    used = False
    if "[" in rest and labels:
        rest, used = _absolute_operands(rest, labels, values)
        if used:
            line = f"{label} {head} {rest}".strip()
    fixed = _fix16(head, rest.strip(), index, near, base)
    return (line if fixed is None else f"{label} {fixed}".strip()), used


DOT = re.compile(r"(?<![\w.$])\.(?![\w.$])")


def _needs_values(rest: str, labels) -> bool:
    """A count made of ``.``, labels and numbers, not a plain number:
    keystone loops forever on ``.fill`` with a ``.``-relative count."""
    count = split_operands(rest)[0]
    names = _NAME.findall(DOT.sub("0", _HEX.sub("", count)))
    return bool(DOT.search(count) or names) and all(n in labels for n in names)


def _evaluate(expr: str, here: int, values: dict, unknown: int) -> int:
    """An assembly-time expression as a number: ``.`` is ``here``, a label
    its value from the last pass (``unknown`` before the first), numbers as written;
    + - * / % << >> & | ^ ~ and parentheses (/ and % on integers)."""
    import ast
    text = DOT.sub(f"{here:#x}", expr)
    names = {n for n in _NAME.findall(_HEX.sub("", text))}
    for n in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.$]){re.escape(n)}(?![\w.$])", f"{values.get(n, unknown):#x}", text)
    try:
        tree = ast.parse(text.replace("/", "//").replace("////", "//"), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot evaluate '{expr.strip()}' (expected a number expression)") from None
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.FloorDiv: lambda a, b: a // b if b else 0, ast.Mod: lambda a, b: a % b if b else 0,
           ast.LShift: lambda a, b: a << b, ast.RShift: lambda a, b: a >> b,
           ast.BitAnd: lambda a, b: a & b, ast.BitOr: lambda a, b: a | b,
           ast.BitXor: lambda a, b: a ^ b}

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else ~v if isinstance(node.op, ast.Invert) else v
        raise ValueError(f"cannot evaluate '{expr.strip()}' (expected a number expression)")
    return ev(tree)


def _fix16(head: str, operand: str, index: int, near, base: int) -> str | None:
    """16-bit code where keystone's encoding is not the 16-bit one (it adds
    an operand-size prefix): RET/RETF (C3/C2/CB/CA), CALL rel16, PUSH imm16,
    JMP/Jcc rel16 (for lines found to need a near branch), far indirect
    CALL/JMP m16:16 (keystone's lcall/ljmp).  None: keystone's is right."""
    if head in ("ret", "retn", "retf"):
        far = head == "retf"
        if not operand:
            return ".byte 0xCB" if far else ".byte 0xC3"
        return f".byte {'0xCA' if far else '0xC2'}; .word {operand}"
    if operand.lower().startswith("near ") and (head in ("call", "jmp") or head in JCC):
        target = operand[5:].strip()
        opcode = {"call": "0xE8", "jmp": "0xE9"}.get(head) or f"0x0F, {0x80 + JCC.get(head, 0):#x}"
        return _rel16(opcode, target, index, base) if _direct(target) else None
    if head in ("call", "jmp") and operand.lower().startswith("far ") and "[" in operand:
        return f"{'lcall' if head == 'call' else 'ljmp'} {operand[4:].strip()}"
    if not _direct(operand):
        return None
    if head == "call":
        return _rel16("0xE8", operand, index, base)
    if head == "push":
        try:
            value = int(operand, 0)
        except ValueError:
            value = None
        if value is not None and -128 <= value <= 127:
            return f"push word {operand}"
        return f".byte 0x68; .word {operand}"
    if index in near:
        if head == "jmp":
            return _rel16("0xE9", operand, index, base)
        if head in JCC:
            return _rel16(f"0x0F, {0x80 + JCC[head]:#x}", operand, index, base)
    return None


def _mode_for(arch: str, bits: int):
    import keystone
    if arch == "x86":
        mode = {16: keystone.KS_MODE_16, 32: keystone.KS_MODE_32, 64: keystone.KS_MODE_64}[bits]
        return keystone.KS_ARCH_X86, mode
    if arch == "arm":
        return keystone.KS_ARCH_ARM, keystone.KS_MODE_ARM
    raise ImageError(f"no assembler for architecture {arch}")


def version() -> str:
    import keystone
    major, minor = keystone.ks_version()[:2]
    return f"keystone {major}.{minor}"


def expand(lines: list, name: str, sources: dict, translate=None):
    """The source with its includes, each line with the file and line it
    came from; line 0 is the label __kasou_base (the image's first byte)."""
    flat = [(f"{BASE_LABEL}:", name, 0)] + _expand(lines, name, sources,
                                                    (os.path.normpath(name),))
    if translate is not None:
        flat = translate(flat)
    return flat


def assemble(source: str, name: str = "<source>", base: int = 0x7C00, arch: str = "x86",
             bits: int = 16, timeout: float = TIMEOUT, translate=None, org=None) -> Image:
    """Assemble ``source`` with keystone; raise ImageError('FILE:LINE: message')
    on error.  ``translate`` turns the expanded lines into this dialect (the
    NASM front end); ``org`` is the address the code is assembled for when
    it is not where it is loaded (labels and the line map say where it is
    loaded, ``base``)."""
    import keystone  # noqa: F401 -- loaded here once, not in every worker
    lines = source.splitlines()
    sources = {name: lines}
    flat = expand(lines, name, sources, translate)
    at = base if org is None else org
    try:
        img = in_worker(_assemble, flat, name, at, arch, bits, translate is not None,
                        timeout=timeout)
    except WorkerTimeout:
        raise ImageError(_hang_report(flat, name, at, arch, bits, timeout,
                                      translate is not None)) from None
    img.base = base
    if at != base:
        img.lines = {a - at + base: loc for a, loc in img.lines.items()}
        img.symbols = {k: v - at + base for k, v in img.symbols.items()}
    img.source, img.sources = lines, sources
    img.assembler = version()
    return img


def _assemble(progress, flat, name, base, arch, bits, clean) -> Image:
    import keystone
    ks_arch, ks_mode = _mode_for(arch, bits)
    ks = keystone.Ks(ks_arch, ks_mode)
    near, values = set(), {}
    pre0, _, _ = _preprocess(flat, bits, near, base, (), {}, clean)
    labels = {m.group(1) for line in pre0 if (m := _LABEL.match(line))}
    constants = [(i, m.group(1), m.group(2)) for i, line in enumerate(pre0)
                 for stmt in _split(line, ";") if (m := _SET.match(stmt))]
    labels |= {name for _, name, _ in constants}
    for k in range(10):
        progress(("pass", k))
        pre, codes, used = _preprocess(flat, bits, near, base, labels, values, clean)
        text = "\n".join(pre)
        try:
            enc, _ = ks.asm(text + f"\n.ascii \"{_SENTINEL.decode()}\"", base)
        except keystone.KsError as e:
            index, msg = _find_error_line(progress, pre, ks_arch, ks_mode, base, e)
            raise ImageError(f"{_where(flat, index, name)}: {msg}") from None
        enc = bytes(enc or b"")
        if not enc.endswith(_SENTINEL):
            index = _stopped_line(progress, pre, ks_arch, ks_mode, base, len(enc))
            raise ImageError(f"{_where(flat, index, name)}: keystone stopped here without a "
                             f"message and assembled nothing from this line on: "
                             f"'{pre[index].strip()}'")
        enc = enc[:-len(_SENTINEL)]
        # the line map with the same Ks: keystone keeps state between
        # assemblies (after prefix assemblies a fresh Ks read 'mov ax, 18'
        # as 0x18); the map is only kept if the code is identical
        addrs = _line_addresses(ks, pre, base, enc)
        wide = _wide_branches(enc, addrs, codes, base) - near if addrs else set()
        symbols = {m.group(1): addrs[i] for i, line in enumerate(pre)
                   if (m := _LABEL.match(line))} if addrs else {}
        if addrs:
            symbols.update(enumerate(addrs))
            for i, const, expr in constants:     # .set NAME, EXPR: its value here
                try:
                    symbols[const] = _evaluate(expr, addrs[i], {**values, **symbols}, base)
                except ValueError:
                    continue
        settled = not used or symbols == values
        if not wide and (settled or not addrs):
            break
        near |= wide
        values = symbols
    _check_short(flat, addrs, enc, base, name)
    img = Image(enc, name, base)
    if addrs is not None:
        img.lines = _line_map(addrs, [(f, n) for _, f, n in flat])
        img.symbols = {k: v for k, v in symbols.items() if isinstance(k, str)
                       and not k.startswith("__kasou_") and k not in {c for _, c, _ in constants}}
    else:
        img.symbols = _symbols(pre, ks_arch, ks_mode, base)
    return img


_SHORT = re.compile(r"^\s*(?:[\w.$]+:\s*)?(?:jmp|j[a-z]{1,4}|loop\w*)\s+short\b", re.I)


def _check_short(flat, addrs, enc, base, name) -> None:
    """A branch written ``short`` must be a short one (EB, 7x, E0-E3); when
    its target is too far keystone writes a near one instead, and NASM
    says the target is out of range: so does this."""
    if not addrs:
        return
    for i, (text, _, _) in enumerate(flat):
        if _SHORT.match(strip_comment(text)) and addrs[i + 1] > addrs[i]:
            op = enc[addrs[i] - base]
            if not (op == 0xEB or 0x70 <= op <= 0x7F or 0xE0 <= op <= 0xE3):
                raise ImageError(f"{_where(flat, i, name)}: short jump is out of range "
                                 f"(expected a target within -128..127 bytes)")


def _where(flat, index, name) -> str:
    if index is None:
        return f"{name}:{max((n for _, f, n in flat if f == name), default=1)}"
    return f"{flat[index][1]}:{max(flat[index][2], 1)}"


def _preprocess(flat: list, bits: int, near, base: int, labels, values, clean=False):
    """Every line in keystone's syntax, the code size in force at each, and
    whether a label's value from the last pass was used."""
    pre, codes, code, used = [], [], bits, False
    for index, (text, where, n) in enumerate(flat):
        m = _CODE.match(text)
        if m:
            code = int(m.group(1))
        try:
            line, u = _preprocess_line(text, code, index, near, base, labels, values, clean)
        except ValueError as e:
            raise ImageError(f"{where}:{n}: {e}") from None
        pre.append(line)
        used |= u
        codes.append(code)
    return pre, codes, used


def _wide_branches(enc: bytes, addrs: list, codes: list, base: int) -> set:
    """Lines of 16-bit code that keystone encoded as JMP/Jcc with an
    operand-size prefix and a 32-bit displacement (66 E9 / 66 0F 8x): their
    target is beyond a short branch; they become 16-bit near branches."""
    out = set()
    for i, code in enumerate(codes):
        if code != 16 or addrs[i + 1] == addrs[i]:
            continue
        b = enc[addrs[i] - base:addrs[i] - base + 3]
        if b[:2] == b"\x66\xe9" or (b[:2] == b"\x66\x0f" and len(b) > 2 and 0x80 <= b[2] <= 0x8F):
            out.add(i)
    return out


def _expand(lines: list, name: str, sources: dict, stack: tuple) -> list:
    """The source with every ``.include`` replaced by the included lines,
    each line as (text, file, line number).  ``sources`` collects each
    file's text; ``stack`` is the chain of files including this one."""
    out = []
    for n, text in enumerate(lines, 1):
        m = _INCLUDE.match(strip_comment(text))
        if not m:
            out.append((text, name, n))
            continue
        want = next(g for g in m.groups() if g is not None)
        path = find_include(want, name)
        if path is None:
            raise ImageError(f"{name}:{n}: cannot include '{want}': no such file "
                             f"(looked next to {os.path.basename(name)} and in {LIBRARY})")
        if path in stack:
            raise ImageError(f"{name}:{n}: '{want}' includes itself "
                             f"(through {' -> '.join(os.path.basename(s) for s in stack)})")
        if path not in sources:
            try:
                with open(path, encoding="utf-8") as f:
                    sources[path] = f.read().splitlines()
            except (OSError, UnicodeDecodeError) as e:
                why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
                raise ImageError(f"{name}:{n}: cannot include '{want}' ({why})") from None
        out.append(("", name, n))        # the include line itself emits nothing
        out.extend(_expand(sources[path], path, sources, stack + (path,)))
    return out


def find_include(want: str, including: str):
    """A file named in an include/incbin: next to the including file, then
    in the guest library."""
    here = os.path.dirname(including) if os.path.sep in including else "."
    for folder in (here, LIBRARY):
        path = os.path.normpath(os.path.join(folder, want))
        if os.path.isfile(path):
            return path
    return None


def _line_addresses(ks, pre, base, enc: bytes):
    """The address of every source line (plus the end), or None.

    One extra assembly: a marker label before each line and, at the end, a
    table of the markers' values (``.long``), read back from the tail of the
    output.  Labels emit nothing, so the code is unchanged -- checked: if
    the output does not start with the real encoding (a macro repeats a
    marker, say), the answer is None rather than wrong.  This also gives
    labels their true addresses (assembling each prefix on its own sizes a
    forward jump as if its target were 0)."""
    import keystone
    if not pre or len(pre) > 20000:
        return None
    text = []
    for i, line in enumerate(pre):
        text.append(f"__kasou_line_{i}:")
        text.append(line)
    text.append(".long " + ", ".join(f"__kasou_line_{i}" for i in range(len(pre))))
    try:
        out, _ = ks.asm("\n".join(text), base)
    except keystone.KsError:
        return None
    out = bytes(out or b"")
    n = len(pre)
    if len(out) != len(enc) + 4 * n or out[:len(enc)] != enc:
        return None
    tail = out[len(enc):]
    return [int.from_bytes(tail[4 * i:4 * i + 4], "little") for i in range(n)] + [base + len(enc)]


def _line_map(addrs: list, origins: list) -> dict:
    """address -> (file, line number) for every source line that emits bytes;
    ``origins[i]`` is where line i of the expanded source came from."""
    lines = {}
    for i in range(len(addrs) - 1):
        if addrs[i + 1] > addrs[i] and addrs[i] not in lines:
            lines[addrs[i]] = origins[i]
    return lines


def _probe_ks(ks_arch, ks_mode):
    """A Ks that reads every unknown symbol as 0 (for lines on their own)."""
    import keystone
    ks = keystone.Ks(ks_arch, ks_mode)
    ks.sym_resolver = lambda sym, value: (value.__setitem__(0, 0) or True)
    return ks


def _find_error_line(progress, pre, ks_arch, ks_mode, base, err):
    """keystone reports an error for the whole text: the first line that
    fails on its own (unknown symbols resolved to 0 for the test), else the
    line whose prefix of the source first fails."""
    import keystone
    ks = _probe_ks(ks_arch, ks_mode)
    for i, line in enumerate(pre):
        if not line.strip():
            continue
        progress(("line", i))
        try:
            ks.asm(line, base)
        except keystone.KsError as e:
            return i, _describe(e, line)
    lo, hi = 0, len(pre)              # the prefix pre[:hi] fails, pre[:lo] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        progress(("line", mid))
        try:
            _probe_ks(ks_arch, ks_mode).asm("\n".join(pre[:mid]), base)
            lo = mid
        except keystone.KsError:
            hi = mid
    return hi - 1, _describe(err, pre[hi - 1])


def _stopped_line(progress, pre, ks_arch, ks_mode, base, produced: int) -> int:
    """The line keystone stopped at without an error: the first statement
    that assembles to nothing and counts no statement on its own, else the
    first line whose address is at or past what was produced."""
    ks = _probe_ks(ks_arch, ks_mode)
    for i, line in enumerate(pre):
        if not line.strip() or _LABEL.match(line) and not line.split(":", 1)[1].strip():
            continue
        progress(("line", i))
        enc, count = ks.asm(line, base)
        if not enc and not count:
            return i
    return len(pre) - 1


def _hang_report(flat, name, base, arch, bits, timeout, clean) -> str:
    """keystone did not finish: the first line that does not finish on its
    own, found in a second worker that reports each line it starts."""
    def probe(progress, pre):
        import keystone
        ks_arch, ks_mode = _mode_for(arch, bits)
        ks = _probe_ks(ks_arch, ks_mode)
        for i, line in enumerate(pre):
            if line.strip():
                progress(i)
                try:
                    ks.asm(line, base)
                except keystone.KsError:
                    pass
        return None
    pre = _preprocess(flat, bits, set(), base, (), {}, clean)[0]
    try:
        in_worker(probe, pre, timeout=timeout)
        index = None
    except WorkerTimeout as t:
        index = t.progress
    what = f"'{flat[index][0].strip()}'" if index is not None else "the source as a whole"
    return (f"{_where(flat, index, name)}: keystone did not finish in {timeout:g} s on {what} "
            f"(stopped; keystone cannot assemble it)")


def _describe(e, line) -> str:
    msg = str(e).split(" (KS_ERR")[0]
    text = line.strip()
    return f"{msg.lower()}: '{text}'" if text else msg.lower()


def _symbols(pre, ks_arch, ks_mode, base) -> dict:
    """Label addresses: assemble each prefix up to a label (sources are small)."""
    import keystone
    labels = [(i, m.group(1)) for i, line in enumerate(pre)
              if (m := _LABEL.match(line)) and not m.group(1).startswith("__kasou_")]
    if not labels or len(labels) > 200:
        return {}
    ks = _probe_ks(ks_arch, ks_mode)
    out = {}
    for i, label in labels:
        try:
            enc, _ = ks.asm("\n".join(pre[:i]), base) if i else ([], 0)
        except keystone.KsError:
            continue
        out[label] = base + len(enc or [])
    return out
