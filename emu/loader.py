"""Guest images: flat binaries and assembly sources.

* ``.S`` / ``.s`` / ``.asm``: assembled with keystone (Intel syntax), as
  16-bit code by default for the ``pc`` board (``.code32``/``.code64``
  switch modes, as in GNU as).  Besides keystone's own syntax the loader
  accepts a few conveniences learners know from NASM, rewritten line by
  line so line numbers stay exact:
    - ``; comment``            (keystone itself only knows ``#``)
    - ``db`` / ``dw`` / ``dd`` / ``dq``  ->  ``.byte`` / ``.word`` / ``.long`` / ``.quad``
    - ``jmp far SEG:OFF`` / ``call far SEG:OFF``  ->  the EA / 9A encodings,
      with a 16-bit offset after ``.code16`` (the default) and a 32-bit one
      after ``.code32`` (there is no direct far jump in 64-bit mode)
    - ``.include "FILE"`` (GNU as) or ``%include "FILE"`` (NASM): the file's
      lines in place, looked up next to the including file, then in the
      guest library ``emu/guests/lib`` that ships with kasou
  and, in 16-bit code, the 16-bit encodings where keystone writes 32-bit
  ones (it puts an operand-size prefix on CALL rel, RET/RETF, PUSH imm and
  on a JMP/Jcc too far for 8 bits, so ``call`` would push four bytes in real
  mode): CALL rel16, RET (imm16), PUSH imm8/imm16, JMP/Jcc rel16, and
  ``call far [m]`` / ``jmp far [m]`` as FF /3 and FF /5 (m16:16)
* an ELF executable (``\x7fELF``, read with pyelftools): its loadable
  segments at their physical addresses, its symbol table as labels, and
  its DWARF line table as the line map (the source files are read from
  where the compiler saw them, for ``list``).  The ``pc`` board loads an
  image at 0x7C00 and enters it there, so the ELF must be linked to start
  there (GNU ld: ``-Ttext=0x7c00``, entry first)
* anything else: a flat binary, loaded as is.

An assembly error names the file and line it comes from (an included file's
own name and line) and keystone's message; so do the debugger's line map and
``list``.
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
    sources: dict = field(default_factory=dict)   # file -> its lines (the main one and includes)
    #: line starts in ``lines`` where no statement starts (DWARF rows with
    #: is_stmt false only): gdb's step and next do not stop there
    not_statements: set = field(default_factory=set)

    def source_line(self, loc) -> str:
        """The text of a ``(file, line number)`` from ``lines``, or ''."""
        name, n = loc
        text = self.sources.get(name, self.source if name == self.name else [])
        return text[n - 1] if 0 < n <= len(text) else ""


_DATA = {"db": ".byte", "dw": ".word", "dd": ".long", "dq": ".quad"}
_FAR = re.compile(r"^(\s*)(jmp|call)\s+far\s+(\S+?)\s*:\s*(\S+)\s*$", re.I)
_LABEL = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\s*:")
_INCLUDE = re.compile(r"""^\s*[.%]include\s+(?:"([^"]*)"|<([^>]*)>|(\S+))\s*$""", re.I)
_CODE = re.compile(r"^\s*\.code(16|32|64)\b", re.I)
LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "lib")


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


_REGISTERS = set("""al ah bl bh cl ch dl dh ax bx cx dx si di bp sp eax ebx ecx edx esi edi
    ebp esp rax rbx rcx rdx rsi rdi rbp rsp cs ds es ss fs gs""".split()) | {
    f"r{n}{w}" for n in range(8, 16) for w in ("", "d", "w", "b")}
_JCC = {"jo": 0, "jno": 1, "jb": 2, "jc": 2, "jnae": 2, "jae": 3, "jnb": 3, "jnc": 3,
        "je": 4, "jz": 4, "jne": 5, "jnz": 5, "jbe": 6, "jna": 6, "ja": 7, "jnbe": 7,
        "js": 8, "jns": 9, "jp": 10, "jpe": 10, "jnp": 11, "jpo": 11, "jl": 12, "jnge": 12,
        "jge": 13, "jnl": 13, "jle": 14, "jng": 14, "jg": 15, "jnle": 15}
BASE_LABEL = "__kasou_base"
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b")
_NAME = re.compile(r"[A-Za-z_.$][\w.$]*")


def _direct(operand: str) -> bool:
    """A direct branch target or immediate: not a register, not memory."""
    op = operand.strip().lower()
    return bool(op) and "[" not in op and " ptr" not in op and op not in _REGISTERS \
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


def preprocess_line(line: str, bits: int = 16, index: int = 0, near=(), base: int = 0) -> str:
    """One source line in keystone's syntax.  ``bits`` is the code size in
    force there (the far-jump offset's width depends on it, and 16-bit code
    gets its CALL, RET and PUSH imm encoded as they are in 16-bit code);
    ``index`` names the line's own labels; lines whose index is in ``near``
    get their JMP/Jcc as a 16-bit near branch; ``base`` is the address of
    the image's first byte (the label ``__kasou_base``)."""
    line = hex_literals(_strip_comment(line))
    m = _FAR.match(line)
    if m:
        indent, op, seg, off = m.groups()
        opcode = "0xEA" if op.lower() == "jmp" else "0x9A"
        if bits == 64:
            raise ValueError(f"there is no direct far {op.lower()} in 64-bit code "
                             f"(expected it after .code16 or .code32)")
        width = ".word" if bits == 16 else ".long"
        return f"{indent}.byte {opcode}; {width} {off}; .word {seg}"
    parts = line.split(None, 1)
    if not parts:
        return line
    head = parts[0].lower()
    label = ""
    rest = parts[1] if len(parts) > 1 else ""
    if head.endswith(":") and rest:
        label, sub = parts[0], rest.split(None, 1)
        head = sub[0].lower()
        rest = sub[1] if len(sub) > 1 else ""
    if head in _DATA:
        return f"{label} {_DATA[head]} {rest}".strip()
    if bits != 16 or head.endswith(":"):
        return line
    fixed = _fix16(head, rest.strip(), index, near, base)
    return line if fixed is None else f"{label} {fixed}".strip()


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
        if head in _JCC:
            return _rel16(f"0x0F, {0x80 + _JCC[head]:#x}", operand, index, base)
    return None


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
    sources = {name: lines}
    # line 0 is the label __kasou_base (the image's first byte); then the
    # source with its includes, each line with the file and line it came from
    flat = [(f"{BASE_LABEL}:", name, 0)] + _expand(lines, name, sources,
                                                    (os.path.normpath(name),))
    ks_arch, ks_mode = _mode_for(arch, bits)
    ks = keystone.Ks(ks_arch, ks_mode)
    near = set()
    for _ in range(8):
        pre, codes = _preprocess(flat, bits, near, base)
        try:
            enc, _ = ks.asm("\n".join(pre), base)
        except keystone.KsError as e:
            index, msg = _find_error_line(pre, ks_arch, ks_mode, base, e)
            where = f"{flat[index][1]}:{flat[index][2]}" if index is not None else f"{name}:?"
            raise ImageError(f"{where}: {msg}") from None
        enc = bytes(enc or b"")
        # the line map with the same Ks: keystone keeps state between
        # assemblies (after _symbols' prefix assemblies a fresh Ks read
        # 'mov ax, 18' as 0x18); the map is only kept if the code is identical
        addrs = _line_addresses(ks, pre, base, enc)
        wide = _wide_branches(enc, addrs, codes, base) - near if addrs else set()
        if not wide:
            break
        near |= wide
    img = Image(enc, name, base, source=lines, sources=sources)
    if addrs is not None:
        img.lines = _line_map(addrs, [(f, n) for _, f, n in flat])
        img.symbols = {m.group(1): addrs[i] for i, line in enumerate(pre)
                       if (m := _LABEL.match(line)) and not m.group(1).startswith("__kasou_")}
    else:
        img.symbols = _symbols(pre, ks_arch, ks_mode, base)
    return img


def _preprocess(flat: list, bits: int, near, base: int):
    """Every line in keystone's syntax, and the code size in force at each."""
    pre, codes, code = [], [], bits
    for index, (text, where, n) in enumerate(flat):
        m = _CODE.match(text)
        if m:
            code = int(m.group(1))
        try:
            pre.append(preprocess_line(text, code, index, near, base))
        except ValueError as e:
            raise ImageError(f"{where}:{n}: {e}") from None
        codes.append(code)
    return pre, codes


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
        m = _INCLUDE.match(_strip_comment(text))
        if not m:
            out.append((text, name, n))
            continue
        want = next(g for g in m.groups() if g is not None)
        path = _find_include(want, name)
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
        out.extend(_expand(sources[path], path, sources, stack + (path,)))
    return out


def _find_include(want: str, including: str):
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


def _find_error_line(pre, ks_arch, ks_mode, base, err):
    """keystone reports an error for the whole text; find the first line
    that fails on its own (unknown symbols resolved to 0 for the test)."""
    import keystone
    ks = keystone.Ks(ks_arch, ks_mode)
    ks.sym_resolver = lambda sym, value: (value.__setitem__(0, 0) or True)
    for i, line in enumerate(pre):
        if not line.strip():
            continue
        try:
            ks.asm(line, base)
        except keystone.KsError as e:
            return i, _describe(e, line)
    return None, _describe(err, "")


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
        raise ImageError(f"{path}: no such file (expected a flat binary, an ELF executable or an assembly source .S/.asm)")
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a directory (expected a flat binary, an ELF executable or an assembly source .S/.asm)")
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
    if data[:4] == b"\x7fELF":
        return load_elf(path, data, base, arch)
    return Image(data, path, base)


ELF_MACHINES = {"x86": ("EM_386", "EM_X86_64")}


def load_elf(path: str, data: bytes, base: int = 0x7C00, arch: str = "x86") -> Image:
    """An ELF executable as an Image: the bytes of its loadable segments from
    ``base`` on (gaps zero-filled), labels from ``.symtab``, the line map
    from DWARF ``.debug_line``.  One-line ImageError for anything else."""
    import io

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf["e_machine"]
        if machine not in ELF_MACHINES.get(arch, ()):
            raise ImageError(f"{path}: an ELF file for {machine}, not for {arch} "
                             f"(expected {' or '.join(ELF_MACHINES.get(arch, ('?',)))})")
        if elf["e_type"] != "ET_EXEC":
            raise ImageError(f"{path}: ELF type {elf['e_type']} (expected a linked executable, "
                             "ET_EXEC: link it, e.g. ld -Ttext=0x7c00)")
        alloc = [sec for sec in elf.iter_sections() if sec["sh_flags"] & 2 and sec["sh_size"]]
        chunks = []
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or not seg["p_memsz"]:
                continue
            lo, hi = seg["p_vaddr"], seg["p_vaddr"] + seg["p_memsz"]
            if not any(lo <= sec["sh_addr"] < hi for sec in alloc):
                continue                  # only the ELF and program headers
            body = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])
            chunks.append((seg["p_paddr"], body))
        if not chunks:
            raise ImageError(f"{path}: no loadable segment (expected code linked at 0x{base:x})")
        entry = elf["e_entry"]
        low = min(a for a, _ in chunks)
        high = max(a + len(b) for a, b in chunks)
        if low != base or entry != base:
            raise ImageError(f"{path}: loads at 0x{low:x} with entry 0x{entry:x}; this board "
                             f"loads an image at 0x{base:x} and enters it there (link with "
                             f"-Ttext=0x{base:x} and put the entry first)")
        if high - low > 64 << 20:
            raise ImageError(f"{path}: segments span 0x{low:x}-0x{high:x}, too far apart "
                             "for one image")
        blob = bytearray(high - low)
        for a, b in chunks:
            blob[a - low:a - low + len(b)] = b
        img = Image(bytes(blob), path, base)
        img.symbols = {k: v for k, v in _elf_symbols(elf).items() if low <= v < high}
        _elf_lines(elf, path, img)
        return img
    except ImageError:
        raise
    except (ELFError, ValueError, KeyError, IndexError, AttributeError, TypeError) as e:
        raise ImageError(f"{path}: not a valid ELF file ({e or type(e).__name__})") from None


def _elf_symbols(elf) -> dict:
    """Labels: named functions, objects and plain labels with an address."""
    out = {}
    tab = elf.get_section_by_name(".symtab")
    if tab is None:
        return out
    for sym in tab.iter_symbols():
        kind = sym["st_info"]["type"]
        if (sym.name and kind in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE")
                and sym["st_shndx"] not in ("SHN_UNDEF", "SHN_ABS")):
            out.setdefault(sym.name, sym["st_value"])
    return out


def _elf_lines(elf, path: str, img: Image) -> None:
    """The line map from DWARF, and the text of each source file it names
    that can be found (as written, under the compilation directory, or next
    to the ELF file)."""
    if not elf.has_dwarf_info():
        return
    dwarf = elf.get_dwarf_info()
    stmts = set()
    for cu in dwarf.iter_CUs():
        prog = dwarf.line_program_for_CU(cu)
        if prog is None:
            continue
        top = cu.get_top_DIE()
        comp_dir = top.attributes.get("DW_AT_comp_dir")
        comp_dir = comp_dir.value.decode("utf-8", "replace") if comp_dir else ""
        version = prog["version"]
        dirs = [d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d)
                for d in prog["include_directory"]]
        files = prog["file_entry"]

        def file_name(index, dirs=dirs, files=files, version=version, comp_dir=comp_dir):
            k = index if version >= 5 else index - 1
            if not 0 <= k < len(files):
                return None
            fe = files[k]
            name = fe.name.decode("utf-8", "replace") if isinstance(fe.name, bytes) else str(fe.name)
            d = fe.dir_index if version >= 5 else fe.dir_index - 1
            if not os.path.isabs(name) and 0 <= d < len(dirs) and (version >= 5 or fe.dir_index):
                name = os.path.join(dirs[d], name)
            return name

        for entry in prog.get_entries():
            st = entry.state
            if st is None or st.end_sequence:
                continue
            name = file_name(st.file)
            if name is None:
                continue
            # rows at one address: the last describes it (the earlier ones
            # cover no bytes), as addr2line and gdb read the table
            img.lines[st.address] = (name, st.line)
            if st.is_stmt:
                stmts.add(st.address)
            if name not in img.sources:
                img.sources[name] = _read_source(name, comp_dir, os.path.dirname(path))
    img.not_statements = set(img.lines) - stmts
    if img.lines:
        first = img.lines.get(img.base) or next(iter(img.lines.values()))
        img.source = img.sources.get(first[0], [])


def _read_source(name: str, comp_dir: str, elf_dir: str) -> list:
    for cand in (name, os.path.join(comp_dir, name), os.path.join(elf_dir, os.path.basename(name))):
        try:
            with open(cand, encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            continue
    return []
