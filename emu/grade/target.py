"""The grader's coupling to the rest of kasou: build a submission into an
image and run it on a Machine.

Everything else in :mod:`emu.grade` speaks to the guest through a
:class:`Target` (registers by name, memory, one instruction at a time or in
slices) and to the assembler through its :class:`Arch`, so a change to the
loader or the Machine is absorbed here.

What depends on the architecture -- the board, the registers a spec may
name, the calling convention of a ``call`` test (arguments, return value,
callee-saved registers), the return trap, how a source is assembled and how
a guest fault is decoded -- is one :class:`Arch` object per architecture,
chosen by the spec's ``assignment.arch`` (:func:`emu.grade.arches.get_arch`):
:mod:`emu.grade.x86` (the ``pc`` board; cdecl, System V AMD64) and
:mod:`emu.grade.arm` (the ``virt`` board; AAPCS).  This module holds what
they share: the submission's files read safely, the image with its labels
and line map (:class:`Build`), and the run loop with its limits and the
"does not terminate" check (:meth:`Target.run`).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import time
from dataclasses import dataclass, field

from ..loader import LIBRARY
from ..machine import Machine

MAX_SOURCE_BYTES = 1 << 20
#: a directive that reads another file into the program: an include
#: (``.include``, ``%include``) or raw bytes (GNU as ``.incbin``, NASM ``incbin``)
_INCLUDE = re.compile(r"""^\s*(?:[.%]include|\.?incbin)\s+(?:"([^"]*)"|<([^>]*)>|([^\s,]+))""",
                      re.I)


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
    base: int = 0                     # where the image loads
    entry: int | None = None          # where it is entered (None: its first byte)
    #: addresses of Thumb functions (Arm); their labels in ``symbols`` keep
    #: bit 0, as their ELF symbols have it, so a call enters them as BLX does
    thumb: set = field(default_factory=set)

    @property
    def end(self) -> int:
        return self.base + len(self.data)

    def bytes_of(self, student: str) -> set:
        """The addresses of the bytes the line map attributes to the file ``student``."""
        lines = self.lines
        addrs = sorted(lines)
        mine = set()
        for i, a in enumerate(addrs):
            if lines[a][0] == student:
                end = addrs[i + 1] if i + 1 < len(addrs) else self.end
                mine.update(range(a, end))
        return mine

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
    text = read_text(path)
    here = os.path.dirname(path)
    for n, line in enumerate(text.splitlines(), 1):
        m = _INCLUDE.match(re.split(r"[;@]", line, maxsplit=1)[0])
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


def read_bytes(path: str, limit: int, what: str) -> bytes:
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


def read_text(path: str) -> str:
    raw = read_bytes(path, MAX_SOURCE_BYTES, "a source")
    if b"\0" in raw:
        raise BuildError(f"{os.path.basename(path)}: binary data; expected assembly source text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(f"{os.path.basename(path)}: not UTF-8 text; expected assembly "
                         f"source") from None


@dataclass
class Stop:
    """Why a run ended: ``returned`` (reached the return trap), ``halt``,
    ``exit`` (isa-debug-exit or semihosting SYS_EXIT, with ``status``),
    ``fault`` (with ``message``), ``limit``, ``loop`` (the state repeated at
    ``pc``), ``escaped`` (the step hook stopped it, with ``message``)."""
    kind: str
    message: str = ""
    status: int | None = None
    pc: int = 0


class Arch:
    """What the grader knows of one architecture (see the module doc).
    Subclasses set the attributes and implement the methods."""

    name = ""
    board = ""
    bits = ()                       # the code sizes a spec may ask for
    default_bits = None             # the size when the spec gives none (None: required)
    ram = (0, 0)                    # [low, high): the RAM a spec may name
    example_registers = ""          # for error messages, e.g. "eax, bx, rdi"
    example_mnemonics = ""          # for error messages, e.g. "mul, div, movsb"
    packages = ()                   # Debian packages of its assemblers (a Gradescope image)

    def registers(self) -> dict:
        """name -> (register number, size in bytes), every register a spec may name."""
        raise NotImplementedError

    def callee_saved(self, bits: int) -> tuple:
        """The registers a called function must preserve."""
        raise NotImplementedError

    def return_register(self, bits: int) -> str:
        raise NotImplementedError

    def return_registers64(self, bits: int) -> tuple:
        """The registers of a 64-bit result, low part first (() if none)."""
        raise NotImplementedError

    def call_needs_harness(self, bits: int) -> bool:
        """Whether a ``call`` test needs instructor code to reach the code size."""
        raise NotImplementedError

    def build(self, submission_dir: str, spec_dir: str, bits: int, source: str | None,
              binary: str | None, harness: str | None, after: str | None) -> Build:
        """The submission (with the instructor's code) as one image; BuildError."""
        raise NotImplementedError

    def instructor_symbols(self, spec_dir: str, bits: int, harness: str | None,
                           after: str | None) -> dict:
        """The labels the instructor's code defines (built without a submission)."""
        raise NotImplementedError

    def mnemonics(self) -> frozenset:
        """Every mnemonic ``forbid``/``allow`` may name: the board's
        Target's :meth:`~emu.isa.target.Target.mnemonics`."""
        return self._isa().mnemonics()

    def _isa(self):
        from ..boards import get_board
        from ..isa import get_target
        target = get_board(self.board).TARGET
        return get_target(target) if isinstance(target, str) else target

    def engines(self) -> tuple:
        """The engines a spec may ask for: those that count instructions
        exactly and run this architecture."""
        return tuple(e for e in ("interp", "tcg") if e in self._isa().engines)

    def target(self, build: Build, bits: int, accel: str, uart_input: bytes) -> "Target":
        """A fresh machine with ``build`` loaded, for one test."""
        raise NotImplementedError


class Target:
    """One fresh machine running one test: the state by register name, RAM,
    and :meth:`run` with its limits.  A subclass per architecture says where
    the PC is, how a function is called and returns, and what a fault was."""

    #: where the return trap is (set by subclasses): a ``call`` returns there
    trampoline = 0
    #: where ``{asciz = ...}`` arguments are placed
    scratch = 0

    def __init__(self, arch: Arch, build: Build, bits: int, accel: str = "interp",
                 uart_input: bytes = b"", semihosting: bool = False):
        self.arch = arch
        self.build = build
        self.bits = bits
        self.width = bits // 8
        self.registers = arch.registers()
        lo, hi = arch.ram
        self.machine = Machine(board=arch.board, accel=accel, memory=hi - lo,
                               serial_input=uart_input, semihosting=semihosting)
        self.machine.load_image(build.data, "submission", build.entry, build.base)
        self.cpu = self.machine.cpu
        self.icount = 0
        self.called = False             # call(): the return trap is armed
        self._decoders = {}

    def close(self) -> None:
        self.machine.close()

    # -- state ------------------------------------------------------------------
    def _regs(self) -> list:
        """The CPU state's list of general registers."""
        raise NotImplementedError

    def reg(self, name: str) -> int:
        self.machine.accel.sync_state()
        n, size = self.registers[name]
        return self._regs()[n] & ((1 << (8 * size)) - 1)

    def set_reg(self, name: str, value: int) -> None:
        self.machine.accel.sync_state()
        n, size = self.registers[name]
        mask = (1 << (8 * size)) - 1
        regs = self._regs()
        regs[n] = (regs[n] & ~mask) | (value & mask) if size < 4 else value & mask
        self.machine.accel.state_changed()

    def state(self) -> dict:
        """The PC and the general registers, by name."""
        raise NotImplementedError

    @property
    def pc(self) -> int:
        raise NotImplementedError

    @property
    def sp_name(self) -> str:
        raise NotImplementedError

    def _check_ram(self, addr: int, n: int) -> None:
        lo, hi = self.arch.ram
        if addr < lo or addr + n > hi:
            raise ValueError(f"0x{addr:x}..0x{addr + n:x} is outside RAM "
                             f"(0x{lo:x}..0x{hi:x})")

    def read(self, addr: int, n: int) -> bytes:
        self._check_ram(addr, n)
        return self.machine.ram.read_bytes(addr, n)

    def write(self, addr: int, data: bytes) -> None:
        self._check_ram(addr, len(data))
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
        """Bring the machine to where a function can be called (after the
        harness, if there is one).  A Stop if the harness did not get there."""
        raise NotImplementedError

    def start_at_entry(self, interrupts: bool = False) -> None:
        raise NotImplementedError

    def pass_args(self, values: list) -> None:
        """Put a call's arguments (integers) where the calling convention says."""
        raise NotImplementedError

    def call(self, addr: int) -> None:
        """Arm the return trap as the return address and jump to ``addr``
        (the arguments are in place)."""
        raise NotImplementedError

    # -- what the grader's step hook asks -------------------------------------------
    def is_trap(self, pc: int) -> bool:
        """Whether ``pc`` is the grader's own code (the return trap; the
        trapped vectors), where control may go from the program."""
        return pc == self.trampoline

    def return_fault(self, pc: int, ret_slot: int) -> str | None:
        """If the instruction at ``pc`` returns with the stack pointer above
        where the return address was (``ret_slot``), why that is a fault;
        else None."""
        return None

    def escape_note(self, prev: int, ret_slot: int) -> str:
        """Why control left the program after the instruction at ``prev`` ('' if unknown)."""
        return ""

    # -- running ----------------------------------------------------------------
    def flags(self) -> tuple:
        """The TB flags of the current state: how the code at the PC decodes."""
        return self.machine.target.tb_flags(self.cpu)

    def decode(self, addr: int, key: tuple | None = None):
        """The instruction at ``addr`` in the current instruction set (or
        the one TB flags ``key`` say), as (mnemonic, text, length), or None
        if it does not decode."""
        from ..isa.ops import GuestException
        target = self.machine.target
        if key is None:
            key = target.tb_flags(self.cpu)
        dec = self._decoders.get(key)
        if dec is None:
            dec = self._decoders[key] = target.decoder(self.machine.model, key)
        lo, hi = self.arch.ram
        if not lo <= addr <= hi - 16:
            return None
        code = self.read(addr, 16)
        try:
            insn, length = self._decode_with(dec, code, addr, key)
        except GuestException:
            return None
        return target.describe_insn(insn) + (length,)

    def _decode_with(self, decoder, code: bytes, addr: int, key: tuple) -> tuple:
        """(the instruction ``decoder`` (for TB flags ``key``) makes of
        ``code`` at ``addr``, its length)."""
        raise NotImplementedError

    def _cpu_key(self) -> bytes:
        """The CPU state as bytes (for :meth:`state_hash`)."""
        raise NotImplementedError

    def state_hash(self) -> bytes:
        """Registers and a hash of RAM: equal values at the same PC mean the
        run repeats exactly from here on."""
        self.machine.accel.sync_state()
        h = hashlib.blake2b(self._cpu_key(), digest_size=16)
        lo, hi = self.arch.ram
        h.update(self.machine.ram.read_bytes(lo, hi - lo))
        return h.digest()

    def run(self, limit: int, step=None, seconds: float | None = None,
            check_every: int = 2048) -> Stop:
        """Run until the return trap, a halt, an exit, a fault, ``limit``
        instructions, or a repeated state.  ``step(target)`` (optional) is
        called before every instruction, single-stepping the engine; it may
        return a Stop to end the run."""
        accel = self.machine.accel
        seen = set()
        deadline = None if seconds is None else time.monotonic() + seconds
        accel.set_single_step(step is not None)
        try:
            while True:
                if self.pc == self.trampoline and self.called:
                    return Stop("returned", pc=self.trampoline)
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
                stop = self.ended(r)
                if stop is not None:
                    return stop
        finally:
            accel.set_single_step(False)

    def ended(self, r) -> Stop | None:
        """The Stop for the Machine's RunResult ``r`` (None: run on)."""
        raise NotImplementedError

    def at(self, pc: int, key: tuple | None = None) -> str:
        """' (text), file:line: source' for the instruction at ``pc`` (in
        the instruction set TB flags ``key`` say), as known."""
        what = self.decode(pc, key)
        text = f" ({what[1]})" if what is not None else ""
        where = self.build.where(pc)
        return text + (f", {where}" if where else "")
