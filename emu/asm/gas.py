"""GNU as sources (AT&T, or Intel after ``.intel_syntax``) assembled by GNU
as and linked by GNU ld, each run bounded in time.

* ``.S`` goes through the C preprocessor first (``gcc -E -x
  assembler-with-cpp``), as GCC does; its line markers keep the file and
  line numbers of the source.
* ``as --64 -g`` assembles a one-line prologue (``.code16`` for the ``pc``
  board, which starts in real mode) and then the source: the ELF container
  is 64-bit, the code size is what ``.code16``/``.code32``/``.code64`` say.
* ``ld -N -Ttext=BASE -e BASE`` lays the sections out one after the other
  from the load address, and the ELF loader reads the result: its bytes,
  its symbols as labels (less the linker's own ``_edata``, ``_end``,
  ``__bss_start``) and its DWARF line table as the line map.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from .base import LIBRARY, TIMEOUT, Image, ImageError, run_tool

_ERROR = re.compile(r"^(.*?):(\d+): (?:Error|Fatal error): (.*)$")
_LINKER_SYMBOLS = {"_edata", "_end", "__bss_start", "_etext"}
TOOLS = ("as", "ld")


def available(path: str = "") -> bool:
    tools = TOOLS + (("gcc",) if path.endswith(".S") else ())
    return all(shutil.which(t) for t in tools)


def version() -> str:
    r = run_tool(["as", "--version"], "as --version")
    first = r.stdout.splitlines()[0] if r.stdout else "GNU as"
    return first.replace("GNU assembler (GNU Binutils for Debian)", "GNU as").strip()


def _error(r, path: str, what: str) -> ImageError:
    for line in (r.stderr + r.stdout).splitlines():
        m = _ERROR.match(line)
        if m:
            return ImageError(f"{m.group(1)}:{m.group(2)}: {m.group(3)} ({what})")
        if ": error: " in line:         # the C preprocessor's own form, FILE:LINE:COL: error:
            head, msg = line.split(": error: ", 1)
            bits = head.split(":")
            if len(bits) >= 2 and bits[1].isdigit():
                return ImageError(f"{bits[0]}:{bits[1]}: {msg} ({what})")
    text = " ".join((r.stderr or r.stdout).split()) or f"exit status {r.returncode}"
    return ImageError(f"{path}:1: {text} ({what})")


def assemble(source: str, path: str, base: int = 0x7C00, arch: str = "x86", bits: int = 16,
             timeout: float = TIMEOUT) -> Image:
    """Assemble and link the GNU as source in ``path`` (its text is ``source``)."""
    from ..loader import load_elf
    what = version()
    where = os.path.dirname(os.path.abspath(path))
    includes = [f"-I{where}", f"-I{LIBRARY}"]
    with tempfile.TemporaryDirectory(prefix="kasou-gas-") as tmp:
        prologue = os.path.join(tmp, "prologue.s")
        with open(prologue, "w") as f:
            f.write(f".code{bits}\n")
        source_in = path
        if path.endswith(".S"):
            source_in = os.path.join(tmp, "source.s")
            r = run_tool(["gcc", "-E", "-x", "assembler-with-cpp", *includes, "-o", source_in, path],
                         path, timeout)
            if r.returncode != 0:
                raise _error(r, path, "gcc -E")
        obj, elf = os.path.join(tmp, "out.o"), os.path.join(tmp, "out.elf")
        r = run_tool(["as", "--64", "-g", *includes, "-o", obj, prologue, source_in], path, timeout)
        if r.returncode != 0:
            raise _error(r, path, what)
        r = run_tool(["ld", "-m", "elf_x86_64", "-N", f"-Ttext={base:#x}", "-e", f"{base:#x}",
                      "--build-id=none", "-o", elf, obj], path, timeout)
        if r.returncode != 0:
            text = " ".join(r.stderr.split()) or f"exit status {r.returncode}"
            raise ImageError(f"{path}:1: cannot link at {base:#x}: {text} (ld)")
        with open(elf, "rb") as f:
            data = f.read()
        try:
            img = load_elf(path, data, base, arch)
        except ImageError as e:
            if "no loadable segment" in str(e):
                return Image(b"", path, base, assembler=what)
            raise
    img.symbols = {k: v for k, v in img.symbols.items() if k not in _LINKER_SYMBOLS}
    img.source = source.splitlines()
    img.sources[path] = img.source
    img.assembler = what
    return img
