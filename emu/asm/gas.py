"""GNU as sources (x86: AT&T, or Intel after ``.intel_syntax``; Arm: UAL)
assembled by GNU as and linked by GNU ld, each run bounded in time.

* ``.S`` goes through the C preprocessor first (``gcc -E -x
  assembler-with-cpp``), as GCC does; its line markers keep the file and
  line numbers of the source.
* ``as --64 -g`` assembles a one-line prologue (``.code16`` for the ``pc``
  board, which starts in real mode) and then the source: the ELF container
  is 64-bit, the code size is what ``.code16``/``.code32``/``.code64`` say.
* Arm: ``arm-none-eabi-as -march=armv7-a -g`` (every ARMv7-A encoding,
  ARMv4T's among them: the CPU model decides what runs) and
  ``arm-none-eabi-ld``; a ``.S`` goes through ``arm-none-eabi-gcc -E``.
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
_LINKER_SYMBOLS = {"_edata", "_end", "__bss_start", "_etext", "__bss_start__", "__bss_end__",
                   "_bss_end__", "__end__"}
#: per architecture: (assembler, linker, preprocessor), their options, and
#: the prologue assembled before the source (bits: the code size)
TOOLCHAINS = {
    "x86": {"tools": ("as", "ld", "gcc"), "as": ["--64", "-g"], "ld": ["-m", "elf_x86_64"],
            "prologue": ".code{bits}\n"},
    "arm": {"tools": ("arm-none-eabi-as", "arm-none-eabi-ld", "arm-none-eabi-gcc"),
            "as": ["-march=armv7-a", "-g"], "ld": [], "prologue": ""},
}
TOOLS = TOOLCHAINS["x86"]["tools"][:2]


def _toolchain(arch: str) -> dict:
    chain = TOOLCHAINS.get(arch)
    if chain is None:
        raise ImageError(f"no GNU as for architecture {arch} (expected one of "
                         f"{', '.join(TOOLCHAINS)})")
    return chain


def tools(path: str = "", arch: str = "x86") -> tuple:
    """The programs assembling ``path`` needs (the preprocessor for ``.S``)."""
    chain = _toolchain(arch)["tools"]
    return chain if path.endswith(".S") else chain[:2]


def available(path: str = "", arch: str = "x86") -> bool:
    return all(shutil.which(t) for t in tools(path, arch))


def version(arch: str = "x86") -> str:
    tool = _toolchain(arch)["tools"][0]
    r = run_tool([tool, "--version"], f"{tool} --version")
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
    """Assemble and link the GNU as source ``source`` read from ``path``
    (its includes are found beside ``path``)."""
    from ..loader import load_elf
    chain = _toolchain(arch)
    as_, ld, cpp = chain["tools"]
    what = version(arch)
    where = os.path.dirname(os.path.abspath(path))
    includes = [f"-I{where}", f"-I{LIBRARY}"]
    with tempfile.TemporaryDirectory(prefix="kasou-gas-") as tmp:
        prologue = []
        if chain["prologue"]:
            prologue = [os.path.join(tmp, "prologue.s")]
            with open(prologue[0], "w") as f:
                f.write(chain["prologue"].format(bits=bits))
        # the text given, not the file on disk (a caller may have changed it), under a line
        # marker that keeps the file's name and line numbers in messages and the line map
        source_in = os.path.join(tmp, "input" + (".S" if path.endswith(".S") else ".s"))
        with open(source_in, "w") as f:
            f.write(f'# 1 "{path}"\n' + source)
        if path.endswith(".S"):
            given, source_in = source_in, os.path.join(tmp, "source.s")
            r = run_tool([cpp, "-E", "-x", "assembler-with-cpp", *includes, "-o", source_in, given],
                         path, timeout)
            if r.returncode != 0:
                raise _error(r, path, f"{cpp} -E")
        obj, elf = os.path.join(tmp, "out.o"), os.path.join(tmp, "out.elf")
        r = run_tool([as_, *chain["as"], *includes, "-o", obj, *prologue, source_in], path, timeout)
        if r.returncode != 0:
            raise _error(r, path, what)
        r = run_tool([ld, *chain["ld"], "-N", f"-Ttext={base:#x}", "-e", f"{base:#x}",
                      "--build-id=none", "-o", elf, obj], path, timeout)
        if r.returncode != 0:
            text = " ".join(r.stderr.split()) or f"exit status {r.returncode}"
            raise ImageError(f"{path}:1: cannot link at {base:#x}: {text} ({ld})")
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
