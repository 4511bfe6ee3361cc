"""Guest images: flat binaries and assembly sources.

* ``.S`` / ``.s`` / ``.asm``: assembled with keystone (Intel syntax), as
  16-bit code by default for the ``pc`` board (``.code32``/``.code64``
  switch modes, as in GNU as).  Besides keystone's own syntax the loader
  accepts a few conveniences learners know from NASM, rewritten line by
  line so line numbers stay exact:
    - ``; comment``            (keystone itself only knows ``#``)
    - ``db`` / ``dw`` / ``dd`` / ``dq``  ->  ``.byte`` / ``.word`` / ``.long`` / ``.quad``
    - ``jmp far SEG:OFF`` / ``call far SEG:OFF``  ->  the EA / 9A encodings
* anything else: a flat binary, loaded as is.

An assembly error names the file, the line and keystone's message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

ASM_EXTENSIONS = (".s", ".S", ".asm")


class ImageError(Exception):
    """A guest image could not be read or assembled (one-line message)."""


@dataclass
class Image:
    data: bytes
    name: str
    base: int = 0x7C00
    symbols: dict = field(default_factory=dict)   # label -> address
    lines: dict = field(default_factory=dict)     # address -> (file, line number)
    source: list = field(default_factory=list)    # source lines, for `list`


_DATA = {"db": ".byte", "dw": ".word", "dd": ".long", "dq": ".quad"}
_FAR = re.compile(r"^(\s*)(jmp|call)\s+far\s+(\S+?)\s*:\s*(\S+)\s*$", re.I)
_LABEL = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\s*:")


def _strip_comment(line: str) -> str:
    out, quote = [], None
    for ch in line:
        if quote:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        elif ch == ";":
            break
        else:
            out.append(ch)
    return "".join(out)


def preprocess_line(line: str) -> str:
    line = _strip_comment(line)
    m = _FAR.match(line)
    if m:
        indent, op, seg, off = m.groups()
        opcode = "0xEA" if op.lower() == "jmp" else "0x9A"
        return f"{indent}.byte {opcode}; .word {off}; .word {seg}"
    parts = line.split(None, 1)
    if parts:
        head = parts[0].lower()
        label = ""
        rest = parts[1] if len(parts) > 1 else ""
        if head.endswith(":") and rest:
            label, sub = parts[0], rest.split(None, 1)
            head = sub[0].lower()
            rest = sub[1] if len(sub) > 1 else ""
        if head in _DATA:
            return f"{label} {_DATA[head]} {rest}".strip()
    return line


def _mode_for(arch: str, bits: int):
    import keystone
    if arch == "x86":
        mode = {16: keystone.KS_MODE_16, 32: keystone.KS_MODE_32, 64: keystone.KS_MODE_64}[bits]
        return keystone.KS_ARCH_X86, mode
    raise ImageError(f"no assembler for architecture {arch}")


def assemble(source: str, name: str = "<source>", base: int = 0x7C00, arch: str = "x86",
             bits: int = 16) -> Image:
    """Assemble ``source``; raise ImageError('FILE:LINE: message') on error."""
    import keystone
    lines = source.splitlines()
    pre = [preprocess_line(line) for line in lines]
    ks_arch, ks_mode = _mode_for(arch, bits)
    ks = keystone.Ks(ks_arch, ks_mode)
    try:
        enc, _ = ks.asm("\n".join(pre), base)
    except keystone.KsError as e:
        lineno, msg = _find_error_line(pre, ks_arch, ks_mode, base, e)
        raise ImageError(f"{name}:{lineno}: {msg}") from None
    if enc is None:
        enc = []
    img = Image(bytes(enc), name, base, source=lines)
    # the line map first and with the same Ks: keystone keeps state between
    # assemblies (after _symbols' prefix assemblies a fresh Ks read
    # 'mov ax, 18' as 0x18); the map is only kept if the code is identical
    addrs = _line_addresses(ks, pre, base, bytes(enc))
    if addrs is not None:
        img.lines = _line_map(addrs, name)
        img.symbols = {m.group(1): addrs[i] for i, line in enumerate(pre)
                       if (m := _LABEL.match(line))}
    else:
        img.symbols = _symbols(pre, ks_arch, ks_mode, base)
    return img


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


def _line_map(addrs: list, name: str) -> dict:
    """address -> (file, line number) for every source line that emits bytes."""
    lines = {}
    for i in range(len(addrs) - 1):
        if addrs[i + 1] > addrs[i] and addrs[i] not in lines:
            lines[addrs[i]] = (name, i + 1)
    return lines


def _find_error_line(pre, ks_arch, ks_mode, base, err):
    """keystone reports an error for the whole text; find the first line
    that fails on its own (unknown symbols resolved to 0 for the test)."""
    import keystone
    ks = keystone.Ks(ks_arch, ks_mode)
    ks.sym_resolver = lambda sym, value: (value.__setitem__(0, 0) or True)
    for i, line in enumerate(pre, 1):
        if not line.strip():
            continue
        try:
            ks.asm(line, base)
        except keystone.KsError as e:
            return i, _describe(e, line)
    return "?", _describe(err, "")


def _describe(e, line) -> str:
    msg = str(e).split(" (KS_ERR")[0]
    text = line.strip()
    return f"{msg.lower()}: '{text}'" if text else msg.lower()


def _symbols(pre, ks_arch, ks_mode, base) -> dict:
    """Label addresses: assemble each prefix up to a label (sources are small)."""
    import keystone
    labels = [(i, m.group(1)) for i, line in enumerate(pre) if (m := _LABEL.match(line))]
    if not labels or len(labels) > 200:
        return {}
    ks = keystone.Ks(ks_arch, ks_mode)
    ks.sym_resolver = lambda sym, value: (value.__setitem__(0, 0) or True)
    out = {}
    for i, label in labels:
        try:
            enc, _ = ks.asm("\n".join(pre[:i]), base) if i else ([], 0)
        except keystone.KsError:
            continue
        out[label] = base + len(enc or [])
    return out


def load_file(path: str, base: int = 0x7C00, arch: str = "x86", bits: int = 16) -> Image:
    """Read a guest file: assemble a source, or take a flat binary as is."""
    if not os.path.exists(path):
        raise ImageError(f"{path}: no such file (expected a flat binary or an assembly source .S/.asm)")
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a directory (expected a flat binary or an assembly source .S/.asm)")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImageError(f"{path}: cannot read ({e.strerror})") from None
    if path.endswith(ASM_EXTENSIONS):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ImageError(f"{path}: not UTF-8 text (expected an assembly source)") from None
        return assemble(text, path, base, arch, bits)
    if not data:
        raise ImageError(f"{path}: empty file (expected a flat binary)")
    return Image(data, path, base)
