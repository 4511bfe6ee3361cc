"""The C bench guests (``emu/guests/c``): small freestanding C programs, the
code a compiler writes rather than code written for kasou, built when they
are run with the system's compilers (Debian's ``gcc`` and
``gcc-arm-none-eabi``; ``make deps`` installs them) -- never fetched.

Each program (``KINDS``: a quicksort, a 16x16 matrix multiply, FNV-1a and
djb2 hashes, a bubble sort of 16-bit values, decimal formatting, a
tokenizer written as a state machine with a switch, Euclid's gcd and
other divisions by variables) defines
``guest_main``, which returns a checksum; the start code prints it as eight
hex digits and a newline on the board's UART and ends the run (status 0).
Each source sets its size with one line ``#define SCALE N`` (and may set
the A32 guest's apart with ``#define A32_SCALE N``).

* ``pmc_KIND``: ``gcc -m32 -O2 -ffreestanding -fno-pic -nostdlib`` with
  ``x86_start.S`` (real mode to flat 32-bit protected mode, SDM Vol. 3A
  9.9.1), linked by ``x86.ld`` at 0x7C00 for the ``pc`` board;
* ``a32c_KIND``: ``arm-none-eabi-gcc -marm -O2`` with ``a32_start.S``,
  linked by ``a32.ld`` at 0x40010000 for the ``virt`` board (libgcc for
  what ARMv4T has no instruction for).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

C_DIR = os.path.join(os.path.dirname(__file__), "guests", "c")
KINDS = ("qsort", "matmul", "hash", "bsort", "itoa", "fsm", "gcd")
#: the guests on the pc board, in 32-bit protected mode
X86 = {f"pmc_{kind}": "protected" for kind in KINDS}
#: the guests on the virt board, in A32
A32 = {f"a32c_{kind}": "a32" for kind in KINDS}
GUESTS = {**X86, **A32}
_SCALE = re.compile(r"^#define SCALE (\d+)\b", re.M)
_A32_SCALE = re.compile(r"^#define A32_SCALE (\d+)\b", re.M)
_COMMON = ("-O2", "-ffreestanding", "-nostdlib", "-fno-asynchronous-unwind-tables",
           "-fno-stack-protector", "-Wall", "-Werror", "-Wl,--build-id=none",
           "-Wl,--no-warn-rwx-segments")
#: (compiler, its package, flags, start code, linker script, libraries) per guest prefix
_TOOLCHAINS = {
    "pmc": ("gcc", "gcc", ("-m32", "-fno-pic", "-fno-pie", "-no-pie", "-Wl,-m,elf_i386",
                           "-Wl,--no-warn-execstack"), "x86_start.S", "x86.ld", ()),
    "a32c": ("arm-none-eabi-gcc", "gcc-arm-none-eabi", ("-marm",), "a32_start.S", "a32.ld",
             ("-lgcc",)),
}


class BuildError(Exception):
    """A C guest that could not be built (one line: what and why)."""


def kind(name: str) -> str:
    return name.split("_", 1)[1]


def source(name: str) -> str:
    """The C source of guest ``name``."""
    return os.path.join(C_DIR, kind(name) + ".c")


def scale_line(text: str, path: str):
    """The match of the source's one ``#define SCALE N`` line."""
    found = list(_SCALE.finditer(text))
    if len(found) != 1:
        raise BuildError(f"{path}: expected one line '#define SCALE N' (found {len(found)})")
    return found[0]


def default_scale(name: str) -> int:
    """The source's SCALE; for an A32 guest, its ``#define A32_SCALE N``
    where it has one (a size for what takes A32 many more instructions)."""
    path = source(name)
    with open(path) as f:
        text = f.read()
    a32 = _A32_SCALE.search(text) if name in A32 else None
    return int(a32.group(1)) if a32 else int(scale_line(text, path).group(1))


def build(name: str, scale: int | None = None, board: str = "pc"):
    """The image of C guest ``name`` (built with ``-DSCALE=scale`` when
    given), loaded as ``board`` loads an ELF executable."""
    from .loader import ImageError, load_guest
    cc, package, flags, start, script, libs = _TOOLCHAINS[name.split("_", 1)[0]]
    path = shutil.which(cc)
    if path is None:
        raise BuildError(f"guest '{name}': {cc} not found (the C bench guests are built with it; "
                         f"expected Debian's {package}: make deps installs it)")
    scale = default_scale(name) if scale is None else scale
    with tempfile.TemporaryDirectory(prefix="kasou-c-") as tmp:
        elf = os.path.join(tmp, name + ".elf")
        cmd = [path, *_COMMON, *flags, f"-DSCALE={scale}", f"-I{C_DIR}",
               f"-Wl,-T,{os.path.join(C_DIR, script)}", "-o", elf, os.path.join(C_DIR, start),
               source(name), os.path.join(C_DIR, "lib.c"), *libs]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BuildError(f"guest '{name}': {cc} failed to run ({e})") from None
        if r.returncode:
            first = next((ln for ln in r.stderr.splitlines() if ln.strip()), "no message")
            raise BuildError(f"guest '{name}': {cc} failed (status {r.returncode}): {first}")
        try:
            img = load_guest(elf, board=board)
        except ImageError as e:
            raise BuildError(f"guest '{name}': {e}") from None
        img.name = f"{name}.elf"
        return img
