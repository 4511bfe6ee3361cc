"""Guest images: assembly sources, ELF executables and flat binaries.

* an assembly source (``.asm``, ``.nasm``, ``.s``, ``.S``): assembled by the
  assembler its dialect calls for -- nasm, GNU as or keystone; the rule is
  in ``emu.asm``, each assembler in its own module there.  The image says
  which assembler made it, its labels and its line map (address -> file
  and line, includes too), which the debugger's ``list`` and breakpoints
  on labels use.
* an ELF executable (``\x7fELF``, read with pyelftools): its loadable
  segments at their physical addresses, its symbol table as labels, and
  its DWARF line table as the line map (the source files are read from
  where the compiler saw them, for ``list``), and its entry point, where
  the board enters it.  The ``pc`` board loads an image at 0x7C00, so the
  ELF must be linked to load there (GNU ld: ``-Ttext=0x7c00``); its entry
  may be anywhere inside it.  A board that loads an ELF by its segments
  (``virt``, as QEMU) takes them where they are linked (``base=None``).
* anything else: a flat binary, loaded as is.

Every error is one line; an assembly error names the file and line it
comes from (an included file's own name and line) and the assembler.
"""

from __future__ import annotations

import os

from .asm import SOURCE_EXTENSIONS, assemble_file
from .asm.base import LIBRARY, Image, ImageError, read_lines  # noqa: F401 -- the loader's API
from .asm.keystone import BASE_LABEL, assemble, hex_literals, preprocess_line  # noqa: F401
from .isa import get_target

ASM_EXTENSIONS = SOURCE_EXTENSIONS
_EXPECTED = "expected a flat binary, an ELF executable or an assembly source " \
    + "/".join(SOURCE_EXTENSIONS)


_SAME = object()


def load_file(path: str, base: int = 0x7C00, arch: str = "x86", bits: int = 16,
              assembler: str | None = None, elf_base=_SAME) -> Image:
    """Read a guest file: assemble a source (``assembler``: the one to use
    instead of the one its dialect picks, see ``emu.asm``), or take a flat
    binary or an ELF executable as is (``elf_base``: where the ELF must
    load, ``base`` unless given; None: where its segments say)."""
    if not os.path.exists(path):
        raise ImageError(f"{path}: no such file ({_EXPECTED})")
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a directory ({_EXPECTED})")
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
        return assemble_file(text, path, base, arch, bits, assembler)
    if not data:
        raise ImageError(f"{path}: empty file (expected a flat binary)")
    if data[:4] == b"\x7fELF":
        return load_elf(path, data, base if elf_base is _SAME else elf_base, arch)
    return Image(data, path, base)


def load_guest(path: str, log=None, board: str = "pc") -> Image:
    """The guest image of ``emu run``, ``debug`` and ``bench`` for ``board``
    (its architecture, where it loads a raw image, whether an ELF goes where
    its segments say); ``log`` (the -d log when it has ``asm``) is told
    which assembler made it."""
    from .boards import get_board
    mod = get_board(board)
    arch = mod.TARGET if isinstance(mod.TARGET, str) else mod.TARGET.name
    img = load_file(path, base=mod.LOAD_ADDR, arch=arch,
                    elf_base=None if mod.ELF_AT_SEGMENTS else mod.LOAD_ADDR)
    if log is not None and img.assembler:
        log.write(f"asm: {img.name}: {img.assembler}\n")
        log.flush()
    return img


def load_elf(path: str, data: bytes, base: int | None = 0x7C00, arch: str = "x86") -> Image:
    """An ELF executable as an Image: the bytes of its loadable segments from
    ``base`` on (gaps zero-filled; None: from its lowest segment, wherever
    that is), labels from ``.symtab``, the line map from DWARF
    ``.debug_line``.  One-line ImageError for anything else."""
    import io

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf["e_machine"]
        expected = get_target(arch).elf_machines
        if machine not in expected:
            raise ImageError(f"{path}: an ELF file for {machine}, not for {arch} "
                             f"(expected {' or '.join(expected)})")
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
            where = "" if base is None else f" linked at 0x{base:x}"
            raise ImageError(f"{path}: no loadable segment (expected code{where})")
        entry = elf["e_entry"]
        low = min(a for a, _ in chunks)
        high = max(a + len(b) for a, b in chunks)
        if base is None:
            base = low
        if low != base:
            raise ImageError(f"{path}: loads at 0x{low:x}; this board loads an image at "
                             f"0x{base:x} (link with -Ttext=0x{base:x})")
        if not low <= entry < high:
            raise ImageError(f"{path}: entry 0x{entry:x} is outside its loadable segments "
                             f"(0x{low:x}-0x{high:x})")
        if high - low > 64 << 20:
            raise ImageError(f"{path}: segments span 0x{low:x}-0x{high:x}, too far apart "
                             "for one image")
        blob = bytearray(high - low)
        for a, b in chunks:
            blob[a - low:a - low + len(b)] = b
        img = Image(bytes(blob), path, base, entry)
        img.symbols = {k: v for k, v in _elf_symbols(elf, img.thumb).items() if low <= v < high}
        _elf_lines(elf, path, img)
        return img
    except ImageError:
        raise
    except (ELFError, ValueError, KeyError, IndexError, AttributeError, TypeError) as e:
        raise ImageError(f"{path}: not a valid ELF file ({e or type(e).__name__})") from None


def _elf_symbols(elf, thumb=None) -> dict:
    """Labels: named functions, objects and plain labels with an address.

    On Arm (ELF for the Arm Architecture, "Symbol Values" and "Mapping
    symbols"): a function's value has bit 0 set when it is Thumb code, and
    the address is the value without it; ``$a``, ``$t`` and ``$d`` (also
    ``$a.name``...) only mark where A32 code, Thumb code and data begin, and
    are no labels.  The addresses of Thumb functions are added to
    ``thumb`` when given."""
    out = {}
    tab = elf.get_section_by_name(".symtab")
    if tab is None:
        return out
    arm = elf["e_machine"] == "EM_ARM"
    for sym in tab.iter_symbols():
        kind = sym["st_info"]["type"]
        if (sym.name and kind in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE")
                and sym["st_shndx"] not in ("SHN_UNDEF", "SHN_ABS")):
            value = sym["st_value"]
            if arm:
                if sym.name[0] == "$":
                    continue
                if kind == "STT_FUNC" and value & 1:
                    value &= ~1
                    if thumb is not None:
                        thumb.add(value)
            out.setdefault(sym.name, value)
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
                img.sources[name] = read_lines(name, os.path.join(comp_dir, name),
                                               os.path.join(os.path.dirname(path), os.path.basename(name)))
    img.not_statements = set(img.lines) - stmts
    if img.lines:
        first = img.lines.get(img.base) or next(iter(img.lines.values()))
        img.source = img.sources.get(first[0], [])
