"""Assembling guest sources: which dialect a file is in, and which assembler
reads it.

The dialect is chosen from the file alone, the same way every time:

=====================  =============================================  ==========================
file                   dialect                                        assembler
=====================  =============================================  ==========================
``.asm``, ``.nasm``    NASM                                           ``nasm -f bin``; keystone
                                                                      (``nasm_syntax``) when
                                                                      nasm is not installed
``.s``, ``.S`` that    GNU as (AT&T, or Intel after                   GNU as + ld (``.S``
declare their syntax   ``.intel_syntax``)                             through the C preprocessor)
(``.intel_syntax`` /
``.att_syntax``) or
name a register the
AT&T way (``%eax``)
other ``.s``, ``.S``   kasou's keystone dialect (Intel syntax with    keystone
                       GNU-as directives and NASM's ``;``, ``db``;
                       see ``emu.asm.keystone``)
=====================  =============================================  ==========================

An Arm source (``arch="arm"``, the ``virt`` board) is GNU as's Arm syntax
(UAL, ``@`` comments), whatever its name ends with: it is assembled by
``arm-none-eabi-as`` and linked by ``arm-none-eabi-ld`` when they are
installed (``make deps`` installs them), by keystone otherwise
(:mod:`emu.asm.arm_keystone`: the same bytes for what both read).

``assembler=`` (``"nasm"``, ``"gas"``, ``"keystone"``) picks one by name
instead.  Every image says which assembler made it (``Image.assembler``,
shown by ``emu run -d asm``), and so does every assembly error, which names
the file and line.  An assembly that produces no bytes is an error.
"""

from __future__ import annotations

import re

from . import arm_keystone, gas, keystone, nasm
from .base import TIMEOUT, Image, ImageError

NASM_EXTENSIONS = (".asm", ".nasm")
GAS_EXTENSIONS = (".s", ".S")
SOURCE_EXTENSIONS = GAS_EXTENSIONS + NASM_EXTENSIONS
ASSEMBLERS = ("nasm", "gas", "keystone")
_GAS_SYNTAX = re.compile(r"^\s*\.(?:intel|att)_syntax\b", re.M)
_ATT_REGISTER = re.compile(r"%(?:[re]?[abcd]x|[abcd][lh]|[re]?[sd]i|[re]?[sb]p|[cdefgs]s|"
                           r"r\d+[dwb]?|cr\d|dr\d)\b")


def dialect(path: str, text: str) -> str:
    """'nasm', 'gas' or 'keystone': the dialect of the source in ``path``."""
    if path.endswith(NASM_EXTENSIONS):
        return "nasm"
    code = "\n".join(line.split("#", 1)[0].split(";", 1)[0].split("//", 1)[0]
                     for line in text.splitlines())
    if _GAS_SYNTAX.search(code) or _ATT_REGISTER.search(code):
        return "gas"
    return "keystone"


def assemble_file(text: str, path: str, base: int = 0x7C00, arch: str = "x86", bits: int = 16,
                  assembler: str | None = None, timeout: float = TIMEOUT) -> Image:
    """The image of the source ``text`` read from ``path``."""
    if assembler is not None and assembler not in ASSEMBLERS:
        raise ImageError(f"{path}: unknown assembler '{assembler}' (expected one of "
                         f"{', '.join(ASSEMBLERS)})")
    if arch == "arm":
        return _assemble_arm(text, path, base, assembler, timeout)
    kind = dialect(path, text)
    use = assembler or kind
    if use == "nasm" and assembler is None and not nasm.available():
        use = "keystone"
    if arch != "x86":
        raise ImageError(f"{path}: no assembler for architecture {arch}")
    if use == "nasm":
        if not nasm.available():
            raise ImageError(f"{path}:1: nasm is not installed (make deps installs it)")
        img = nasm.assemble(text, path, base, bits, timeout)
    elif use == "gas":
        if not gas.available(path):
            raise ImageError(f"{path}:1: this is GNU as source ({_why_gas(path, text)}) and needs "
                             "GNU as, ld and gcc (make deps installs them)")
        img = gas.assemble(text, path, base, arch, bits, timeout)
    elif kind == "nasm":
        from .nasm_syntax import assemble as nasm_on_keystone
        img = nasm_on_keystone(text, path, base, bits, timeout)
    else:
        img = keystone.assemble(text, path, base, arch, bits, timeout)
    return _named(img, text, path, _DIALECT_NAMES[kind])


def _named(img: Image, text: str, path: str, dialect_name: str) -> Image:
    """``img`` saying which assembler made it from which dialect; an image
    of no bytes is an error."""
    img.assembler = f"{img.assembler}, {dialect_name}"
    if not img.data:
        last = max(1, len(text.splitlines()))
        raise ImageError(f"{path}:{last}: the source assembles to no bytes (expected at least one "
                         f"instruction; assembled by {img.assembler})")
    return img


def _assemble_arm(text: str, path: str, base: int, assembler, timeout) -> Image:
    """An Arm GNU as source: GNU as and ld when installed, else keystone."""
    use = assembler or ("gas" if gas.available(path, "arm") else "keystone")
    if use == "nasm":
        raise ImageError(f"{path}: nasm assembles x86 only (expected gas or keystone for Arm)")
    if use == "gas":
        if not gas.available(path, "arm"):
            raise ImageError(f"{path}:1: {', '.join(gas.tools(path, 'arm'))} not installed "
                             "(make deps installs them)")
        img = gas.assemble(text, path, base, "arm", 32, timeout)
    else:
        img = arm_keystone.assemble(text, path, base, timeout)
    return _named(img, text, path, "GNU as Arm syntax")


_DIALECT_NAMES = {"nasm": "NASM syntax", "gas": "GNU as syntax",
                  "keystone": "kasou's keystone dialect"}


def _why_gas(path: str, text: str) -> str:
    return "it declares .intel_syntax/.att_syntax" if _GAS_SYNTAX.search(text) \
        else "it names registers as %reg"
