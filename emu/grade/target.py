"""The grader's one coupling to the rest of kasou: build a submission into an
image and run it on a Machine.

Everything else in :mod:`emu.grade` speaks to the guest through
:class:`Target` (registers by name, memory, one instruction at a time or
in slices) and to the assembler through :func:`build_image`, so a change to
the loader or the Machine is absorbed here.

The x86 ``pc`` board as a grader uses it:

* RAM is 1 MiB (enough for a boot sector, its data and a stack); the image
  is loaded at 0x7C00 and entered in real mode, as ``emu run`` does.
* Without a harness, a ``call`` test starts from that reset state with the
  interrupt vector table's limit set to 0: there is no BIOS, so any
  exception or ``INT n`` escalates to a triple fault (SDM Vol. 3A §20.1.4,
  §6.15 "Double fault") and ends the run as a fault at the instruction
  that raised it, instead of returning through a dummy handler for ever.
* With a harness, the image runs from its entry until its first ``HLT``
  (the harness switches mode, loads a GDT and an IDT with limit 0, sets a
  stack); the function is called from that state.
* The return trampoline is one ``HLT`` byte at :data:`TRAMPOLINE`, an
  address below the image that no boot-sector program uses.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import time
from dataclasses import dataclass, field

from ..loader import LIBRARY, ImageError, assemble
from ..machine import Machine

BOARD = "pc"
MEMORY = 1 << 20
LOAD_ADDR = 0x7C00
TRAMPOLINE = 0x0500
MAX_SOURCE_BYTES = 1 << 20
MAX_BINARY_BYTES = MEMORY - LOAD_ADDR
WIDTH = {16: 2, 32: 4, 64: 8}
_INCLUDE = re.compile(r"""^\s*[.%]include\s+(?:"([^"]*)"|<([^>]*)>|(\S+))""", re.I)
_TRIPLE = re.compile(r"triple fault \(([^()]+?)(?: -> |\))")


def _register_table() -> dict:
    """name -> (register number, size in bytes), for every general register
    a spec may name (AL/BL/CL/DL, the 16-, 32- and 64-bit names)."""
    table = {}
    for i, name in enumerate(("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi")):
        table[name] = (i, 8)
        table["e" + name[1:]] = (i, 4)
        table[name[1:]] = (i, 2)
    for i in range(8, 16):
        table.update({f"r{i}": (i, 8), f"r{i}d": (i, 4), f"r{i}w": (i, 2)})
    for i, name in enumerate("acdb"):
        table[name + "l"] = (i, 1)
    return table


REGISTERS = _register_table()
R16 = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")
R32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
R64 = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi") + tuple(f"r{i}" for i in range(8, 16))


class BuildError(Exception):
    """A submission could not be built (one line, host paths removed)."""


@dataclass
class Build:
    """A submission assembled (with the instructor's code) into one image."""
    data: bytes
    symbols: dict
    lines: dict                       # address -> (file, line number)
    sources: dict                     # file -> lines
    student: set = field(default_factory=set)      # addresses of the submission's bytes
    roots: tuple = ()

    def where(self, addr: int) -> str:
        """'file:line: text' for an address of the image, or ''."""
        loc = self.lines.get(addr)
        if loc is None:
            return ""
        name, n = loc
        text = self.sources.get(name, [])
        line = text[n - 1].strip() if 0 < n <= len(text) else ""
        return f"{self.display(name)}:{n}: {line}"

    def display(self, name: str) -> str:
        return display_path(name, self.roots)


def display_path(name: str, roots) -> str:
    """A file name as a student may see it: relative to the submission or
    spec folder, never a host path."""
    for root in roots:
        if name.startswith(root + os.sep):
            return name[len(root) + 1:]
    return os.path.basename(name)


def scrub(text: str, roots) -> str:
    """``text`` with no host path: the guest library by name, files in the
    submission or spec folder relative to it."""
    for lib in {LIBRARY, os.path.realpath(LIBRARY)}:
        text = text.replace(lib, "kasou's guest library")
    for root in roots:
        text = text.replace(root + os.sep, "").replace(root, ".")
    return text


def find_submission_file(folder: str, pattern: str) -> str:
    """The one file in ``folder`` matching ``pattern`` (a glob)."""
    hits = sorted(p for p in glob.glob(os.path.join(glob.escape(folder), pattern))
                  if os.path.isfile(p))
    if not hits:
        raise BuildError(f"no file matching '{pattern}' in the submission")
    if len(hits) > 1:
        names = ", ".join(os.path.basename(h) for h in hits)
        raise BuildError(f"more than one file matches '{pattern}' ({names}); expected one")
    path = os.path.realpath(hits[0])
    if not path.startswith(os.path.realpath(folder) + os.sep):
        raise BuildError(f"{os.path.basename(hits[0])} is a link out of the submission; "
                         f"expected a file")
    return path


def check_includes(path: str, allowed: tuple, seen=None) -> None:
    """Every ``.include``/``%include`` reachable from ``path`` must resolve,
    wherever the loader could look (next to the including file, then the
    guest library), inside ``allowed`` folders: a submission cannot read
    host files into its image or its error messages."""
    seen = set() if seen is None else seen
    if path in seen:
        return
    seen.add(path)
    text = _read_text(path)
    here = os.path.dirname(path)
    for n, line in enumerate(text.splitlines(), 1):
        m = _INCLUDE.match(line.split(";", 1)[0])
        if not m:
            continue
        want = next(g for g in m.groups() if g is not None)
        for folder in (here, LIBRARY):
            cand = os.path.realpath(os.path.join(folder, want))
            if not any(cand == a or cand.startswith(a + os.sep) for a in allowed):
                raise BuildError(f"{os.path.basename(path)}:{n}: cannot include '{want}': "
                                 f"includes must name files in the submission's folder")
            if os.path.isfile(cand):
                check_includes(cand, allowed, seen)
                break


def _read_bytes(path: str, limit: int, what: str) -> bytes:
    """A submission's file, at most ``limit`` bytes (else a BuildError)."""
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise BuildError(f"{os.path.basename(path)}: {size} bytes; expected {what} of at "
                             f"most {limit} bytes")
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BuildError(f"{os.path.basename(path)}: cannot read ({e.strerror})") from None


def _read_text(path: str) -> str:
    raw = _read_bytes(path, MAX_SOURCE_BYTES, "a source")
    if b"\0" in raw:
        raise BuildError(f"{os.path.basename(path)}: binary data; expected assembly source text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(f"{os.path.basename(path)}: not UTF-8 text; expected assembly "
                         f"source") from None


def mnemonic_names() -> frozenset:
    """Every mnemonic the decoder's instructions are named by in a trace and
    in the ``forbid``/``allow`` rules (the board's Target's
    :meth:`~emu.isa.target.Target.mnemonics`)."""
    from ..boards import get_board
    return get_board(BOARD).TARGET.mnemonics()


def build_image(submission_dir: str, spec_dir: str, bits: int, source: str | None,
                binary: str | None, harness: str | None, after: str | None) -> Build:
    """Assemble the harness, the submission and the code after it as one
    image (each file keeps its own name and line numbers), or load a
    prebuilt flat binary.  Raises :class:`BuildError`."""
    sub = os.path.realpath(submission_dir)
    spec = os.path.realpath(spec_dir)
    roots = (sub, spec)
    if binary is not None:
        data = _read_bytes(find_submission_file(sub, binary), MAX_BINARY_BYTES, "an image")
        return Build(data, {}, {}, {}, set(range(LOAD_ADDR, LOAD_ADDR + len(data))), roots)
    student = find_submission_file(sub, source)
    # the submission may include its own files and kasou's guest library,
    # not the spec's folder: the spec (hidden tests, expected values) is there
    check_includes(student, (sub, os.path.realpath(LIBRARY)))
    allowed = (sub, spec, os.path.realpath(LIBRARY))
    parts = []
    for path in (harness, student, after):
        if path is None:
            continue
        path = os.path.realpath(os.path.join(spec, path))
        check_includes(path, allowed)
        if path == student:
            parts.append(f".code{bits}")
        parts.append(f'.include "{path}"')
    if harness is not None and after is not None:
        parts.append("")
    name = os.path.join(spec, "__grade__.S")
    try:
        img = assemble("\n".join(parts) + "\n", name=name, base=LOAD_ADDR, bits=16)
    except ImageError as e:
        raise BuildError(scrub(str(e), roots)) from None
    if len(img.data) > MAX_BINARY_BYTES:
        raise BuildError(f"the image is {len(img.data)} bytes; expected at most {MAX_BINARY_BYTES}")
    addrs = sorted(img.lines)
    mine = set()
    for i, a in enumerate(addrs):
        if img.lines[a][0] == student:
            end = addrs[i + 1] if i + 1 < len(addrs) else LOAD_ADDR + len(img.data)
            mine.update(range(a, end))
    return Build(img.data, dict(img.symbols), dict(img.lines), dict(img.sources), mine, roots)


def instructor_symbols(spec_dir: str, bits: int, harness: str | None, after: str | None) -> dict:
    """The labels the instructor's code defines (assembled without a submission)."""
    spec = os.path.realpath(spec_dir)
    parts = []
    for path, code in ((harness, None), (after, bits)):
        if path is not None:
            if code:
                parts.append(f".code{code}")
            parts.append(f'.include "{os.path.realpath(os.path.join(spec, path))}"')
    if not parts:
        return {}
    try:
        return assemble("\n".join(parts) + "\n", name=os.path.join(spec, "__grade__.S"),
                        base=LOAD_ADDR, bits=16).symbols
    except ImageError as e:
        raise BuildError(scrub(str(e), (spec,))) from None


@dataclass
class Stop:
    """Why a run ended: ``returned`` (reached the trampoline), ``halt``,
    ``exit`` (isa-debug-exit, with ``status``), ``fault`` (with ``message``),
    ``limit``, ``loop`` (the state repeated at ``pc``), ``escaped`` (the
    step hook stopped it, with ``message``)."""
    kind: str
    message: str = ""
    status: int | None = None
    pc: int = 0


class Target:
    """One fresh x86 ``pc`` machine running one test."""

    def __init__(self, build: Build, bits: int, accel: str = "interp", uart_input: bytes = b""):
        self.build = build
        self.bits = bits
        self.width = WIDTH[bits]
        self.machine = Machine(board=BOARD, accel=accel, memory=MEMORY, serial_input=uart_input)
        self.machine.load_image(build.data, "submission")
        self.cpu = self.machine.cpu
        self.icount = 0
        self.called = False             # call(): the trampoline is armed
        self._decoders = {}

    def close(self) -> None:
        self.machine.close()

    # -- state ------------------------------------------------------------------
    def reg(self, name: str) -> int:
        self.machine.accel.sync_state()
        n, size = REGISTERS[name]
        return self.cpu.regs[n] & ((1 << (8 * size)) - 1)

    def set_reg(self, name: str, value: int) -> None:
        self.machine.accel.sync_state()
        n, size = REGISTERS[name]
        mask = (1 << (8 * size)) - 1
        regs = self.cpu.regs
        regs[n] = (regs[n] & ~mask) | (value & mask) if size < 4 else value & mask
        self.machine.accel.state_changed()

    def state(self) -> dict:
        """The PC and the general registers of the code size, by name."""
        names = {2: R16, 4: R32, 8: R64}[self.width]
        return {"pc": self.pc} | {n: self.reg(n) for n in names}

    @property
    def pc(self) -> int:
        """The linear address of the next instruction."""
        s = self.cpu
        return (s.segs[1].base + s.rip) & 0xFFFFFFFFFFFFFFFF

    @property
    def sp_name(self) -> str:
        return {2: "sp", 4: "esp", 8: "rsp"}[self.width]

    def read(self, addr: int, n: int) -> bytes:
        if addr < 0 or addr + n > MEMORY:
            raise ValueError(f"0x{addr:x}..0x{addr + n:x} is outside the 1 MiB of RAM")
        return self.machine.ram.read_bytes(addr, n)

    def write(self, addr: int, data: bytes) -> None:
        if addr < 0 or addr + len(data) > MEMORY:
            raise ValueError(f"0x{addr:x}..0x{addr + len(data):x} is outside the 1 MiB of RAM")
        self.machine.ram.load(addr, data)
        self.machine.accel.flush_code_cache()

    def push(self, value: int) -> None:
        sp = self.reg(self.sp_name) - self.width
        self.write(sp, (value & ((1 << (8 * self.width)) - 1)).to_bytes(self.width, "little"))
        self.set_reg(self.sp_name, sp)

    def output(self) -> bytes:
        return self.machine.serial_output()

    # -- starting ---------------------------------------------------------------
    def prepare(self, harness: bool, limit: int, interrupts: bool = False) -> Stop | None:
        """Bring the machine to where a function can be called: run the
        harness to its first HLT, or close the IVT (see the module doc;
        ``interrupts``: the program installs IVT handlers, the IVT stays
        open).  A Stop if the harness did not get there."""
        if harness:
            stop = self.run(limit)
            if stop.kind != "halt":
                return stop
            self.cpu.halted = False
        elif not interrupts:
            self.cpu.idt_limit = 0
        self.machine.accel.state_changed()
        self.icount = 0
        return None

    def start_at_entry(self, interrupts: bool = False) -> None:
        if self.cpu.mode == "real" and not interrupts:
            self.cpu.idt_limit = 0
        self.machine.accel.state_changed()

    def call(self, addr: int) -> None:
        """Push the trampoline as the return address and jump to ``addr``
        (arguments are already pushed or in registers)."""
        self.write(TRAMPOLINE, b"\xf4")
        self.push(TRAMPOLINE)
        self.called = True
        self.machine.accel.sync_state()
        self.cpu.rip = addr - self.cpu.segs[1].base
        self.machine.accel.state_changed()

    # -- running ----------------------------------------------------------------
    def decode(self, addr: int):
        """The instruction at linear ``addr`` in the current code size, as
        (mnemonic, text, length), or None if it does not decode."""
        from ..isa.ops import GuestException
        s = self.cpu
        target = self.machine.target
        key = target.tb_flags(s)
        dec = self._decoders.get(key)
        if dec is None:
            dec = self._decoders[key] = target.decoder(self.machine.model, key)
        code = self.read(addr, 16) if addr + 16 <= MEMORY else b""
        if len(code) < 16:
            return None
        try:
            insn = dec.decode(lambda k: code[k], addr - s.segs[1].base)
        except GuestException:
            return None
        return target.describe_insn(insn) + (insn.next_ip - insn.ip,)

    def state_hash(self) -> bytes:
        """Registers and a hash of RAM: equal values at the same PC mean the
        run repeats exactly from here on."""
        self.machine.accel.sync_state()
        h = hashlib.blake2b(repr(sorted(self.cpu.snapshot().items())).encode(), digest_size=16)
        h.update(self.machine.ram.read_bytes(0, MEMORY))
        return h.digest()

    def run(self, limit: int, step=None, seconds: float | None = None,
            check_every: int = 2048) -> Stop:
        """Run until the trampoline, a halt, an exit, a fault, ``limit``
        instructions, or a repeated state.  ``step(target)`` (optional) is
        called before every instruction, single-stepping the engine; it may
        return a Stop to end the run."""
        accel = self.machine.accel
        seen = set()
        deadline = None if seconds is None else time.monotonic() + seconds
        accel.set_single_step(step is not None)
        try:
            while True:
                if self.pc == TRAMPOLINE and self.called:
                    return Stop("returned", pc=TRAMPOLINE)
                if self.icount % check_every == 0:
                    h = self.state_hash()
                    if h in seen:
                        where = self.build.where(self.pc)
                        return Stop("loop", f"does not terminate: loop at 0x{self.pc:x}"
                                    + (f" ({where})" if where else ""), pc=self.pc)
                    seen.add(h)
                    if deadline is not None and time.monotonic() > deadline:
                        return Stop("limit", f"time limit reached ({seconds} s)", pc=self.pc)
                if self.icount >= limit:
                    return Stop("limit", f"instruction limit reached ({limit} instructions)", pc=self.pc)
                if step is not None:
                    stop = step(self)
                    if stop is not None:
                        return stop
                    budget = None
                else:
                    budget = min(limit, self.icount - self.icount % check_every + check_every) \
                        - self.icount
                r = self.machine.run(icount_limit=budget)
                self.icount += r.icount
                if r.reason in ("debug", "limit"):
                    continue
                if r.reason == "halt":
                    if self.pc == TRAMPOLINE + 1 and self.called:
                        return Stop("returned", pc=TRAMPOLINE)
                    return Stop("halt", r.message, pc=self.pc)
                if r.reason == "debug-exit":
                    return Stop("exit", r.message, status=r.status, pc=self.pc)
                return Stop("fault", self.describe_fault(r.message), pc=self.pc)
        finally:
            accel.set_single_step(False)

    def describe_fault(self, message: str) -> str:
        """The exception (the first of a triple fault's chain: the one the
        program raised; the rest come from the absent handlers), the
        instruction, its address and source line."""
        pc = self.pc
        what = self.decode(pc)
        m = _TRIPLE.search(message)
        text = f"{m.group(1).strip() if m else message} at 0x{pc:x}"
        if what is not None:
            text += f" ({what[1]})"
        where = self.build.where(pc)
        if where:
            text += f", {where}"
        return text
