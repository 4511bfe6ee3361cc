"""The grader's ARM part (:class:`emu.grade.target.Arch`): the ``virt``
board, A32 code, the AAPCS.

* RAM is 1 MiB at 0x40000000 (the virt board's RAM base); the image is
  linked and loaded at 0x40010000, where ``emu run -M virt -kernel`` puts
  a raw image, and entered in Supervisor mode, ARM state, as out of reset.
  Arm semihosting is on: a program may end with SYS_EXIT /
  SYS_EXIT_EXTENDED (the exit status) and print with SYS_WRITE0; kasou's
  semihosting has no host files, so nothing reaches the host.
* Faults: a program without its own vectors (no ``assignment.interrupts``)
  gets VBAR pointing at a page of WFI instructions at 0x40000000, so an
  exception it does not handle stops the run there; the slot says which
  exception (ARM DDI 0406C B1.8.1, Table B1-3) and the banked LR where the
  faulting instruction is (Table B1-7: undefined instruction and SVC: LR-4
  in ARM state, LR-2 in Thumb; prefetch abort LR-4; data abort LR-8).  A
  load or store to an address where the board has neither RAM nor a device
  is a data abort, and a jump there a prefetch abort, as on QEMU's virt,
  where such an access is an external abort (kasou's bus otherwise reads
  all ones there).
* ``call`` tests follow the AAPCS (IHI 0042, §5.1.1, §5.4, §5.5): the first
  four arguments in r0-r3, the rest on the stack (the first at [sp]); the
  result in r0; r4-r11 and sp preserved; sp 8-byte aligned at the call
  (§5.2.1.2); lr holds the return trap, one WFI at :data:`TRAMPOLINE`.  SP
  starts at the top of RAM unless the harness (run from its entry to its
  first WFI) set one.
* Sources are GNU as for ARM (``.s``, ``.S``; ``arm-none-eabi-as`` and
  ``-ld``).  The harness, the submission and the code after it are each
  assembled on their own and linked in that order, so they share only
  ``.global`` labels; a prebuilt ELF executable (EM_ARM, linked into RAM)
  or a flat binary (loaded at 0x40010000) may be handed in instead.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from ..asm.base import ImageError, run_tool
from ..devices.device import StopRequest
from ..isa.ops import GuestException
from ..loader import load_elf
from .target import (Arch, Build, BuildError, Stop, Target, check_includes,
                     find_submission_file, read_bytes, scrub)

RAM_BASE = 0x40000000
MEMORY = 1 << 20
LOAD_ADDR = RAM_BASE + 0x10000
VECTORS = RAM_BASE                   # the grader's vector table: eight WFI
TRAMPOLINE = RAM_BASE + 0x100        # the return trap: one WFI
SCRATCH = RAM_BASE + 0x80000         # where {asciz = ...} arguments are placed
STACK_TOP = RAM_BASE + MEMORY
MAX_BINARY_BYTES = STACK_TOP - LOAD_ADDR
WFI = (0xE320F003).to_bytes(4, "little")
UDF_A32, UDF_T16 = 0xE7F000F0, 0xDE00
CROSS = "arm-none-eabi-"
ARGS = ("r0", "r1", "r2", "r3")
CALLEE_SAVED = ("r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11")
#: vector slot -> (exception, LR offset of the faulting instruction in ARM
#: state, in Thumb state)
FAULTS = {1: ("undefined instruction", 4, 2), 2: ("supervisor call (SVC) with no handler", 4, 2),
          3: ("prefetch abort", 4, 4), 4: ("data abort", 8, 8), 6: ("IRQ with no handler", 4, 4),
          7: ("FIQ with no handler", 4, 4)}
_FLAGS = {"n": 31, "z": 30, "c": 29, "v": 28}
#: the first halfword of a 32-bit Thumb instruction: 0b11101, 0b11110, 0b11111
T32_PREFIXES = (0b11101, 0b11110, 0b11111)
_ERROR = re.compile(r"^(.*?):(\d+): (?:Error|Fatal error): (.*)$")
#: the virt board's address ranges with RAM or a device (emu.boards.virt)
_ASSIGNED = ((0x08000000, 0x08020000), (0x09000000, 0x09001000), (RAM_BASE, STACK_TOP))


def _register_table() -> dict:
    """name -> (number, size in bytes): r0-r15 with their AAPCS and UAL
    names, the CPSR (16) and its N, Z, C, V flags (17-20, as 0 or 1)."""
    table = {f"r{i}": (i, 4) for i in range(16)}
    table.update({"sb": (9, 4), "fp": (11, 4), "ip": (12, 4), "sp": (13, 4), "lr": (14, 4),
                  "pc": (15, 4), "cpsr": (16, 4)})
    table.update({flag: (17 + k, 1) for k, flag in enumerate(_FLAGS)})
    return table


REGISTERS = _register_table()
SHOWN = tuple(f"r{i}" for i in range(13)) + ("sp", "lr", "cpsr")


class ArmArch(Arch):
    name = "arm"
    board = "virt"
    bits = (32,)
    default_bits = 32
    ram = (RAM_BASE, STACK_TOP)
    example_registers = "r0, r4, sp, lr, z"
    example_mnemonics = "mul, udiv, ldm"
    packages = ("binutils-arm-none-eabi",)

    def registers(self) -> dict:
        return REGISTERS

    def callee_saved(self, bits: int) -> tuple:
        return CALLEE_SAVED

    def return_register(self, bits: int) -> str:
        return "r0"

    def return_registers64(self, bits: int) -> tuple:
        return ("r0", "r1")           # AAPCS §5.5: a 64-bit result in r0 (low) and r1

    def call_needs_harness(self, bits: int) -> bool:
        return False

    def build(self, submission_dir, spec_dir, bits, source, binary, harness, after) -> Build:
        sub = os.path.realpath(submission_dir)
        spec = os.path.realpath(spec_dir)
        roots = (sub, spec)
        if binary is not None:
            path = find_submission_file(sub, binary)
            data = read_bytes(path, 16 << 20, "an image")
            if data[:4] != b"\x7fELF":
                if len(data) > MAX_BINARY_BYTES:
                    raise BuildError(f"{os.path.basename(path)}: {len(data)} bytes; expected an "
                                     f"image of at most {MAX_BINARY_BYTES} bytes")
                return Build(data, {}, {}, {}, set(range(LOAD_ADDR, LOAD_ADDR + len(data))),
                             roots, LOAD_ADDR)
            try:
                img = load_elf(os.path.basename(path), data, None, "arm")
            except ImageError as e:
                raise BuildError(str(e)) from None
            # no line table: the files it names are not the grader's to read
            build = _of_image(img, roots, with_lines=False)
            build.student = set(range(build.base, build.end))
            return _fits(build)
        student = find_submission_file(sub, source)
        check_includes(student, (sub,))
        files = []
        for path in (harness, student, after):
            if path is not None:
                path = os.path.realpath(os.path.join(spec, path))
                check_includes(path, (sub, spec))
                files.append(path)
        build = _fits(assemble(files, roots))
        build.student = build.bytes_of(student)
        return build

    def instructor_symbols(self, spec_dir, bits, harness, after) -> dict:
        spec = os.path.realpath(spec_dir)
        files = [os.path.realpath(os.path.join(spec, p)) for p in (harness, after) if p]
        if not files:
            return {}
        return assemble(files, (spec,), relocatable=True).symbols

    def target(self, build, bits, accel, uart_input) -> Target:
        return ArmGradeTarget(self, build, bits, accel, uart_input)


def _fits(build: Build) -> Build:
    if not (RAM_BASE <= build.base and build.end <= STACK_TOP):
        raise BuildError(f"the image spans 0x{build.base:x}-0x{build.end:x}; expected it linked "
                         f"at 0x{LOAD_ADDR:x} and at most {MAX_BINARY_BYTES} bytes")
    return build


def assemble(files: list, roots: tuple, relocatable: bool = False) -> Build:
    """GNU as sources assembled each on its own (``arm-none-eabi-as -g``)
    and linked in order at :data:`LOAD_ADDR` (``relocatable``: only the
    labels matter, undefined ones allowed).  BuildError with the first
    message, file and line."""
    for tool in ("as", "ld"):
        if shutil.which(CROSS + tool) is None:
            raise BuildError(f"{CROSS}{tool} is not installed (make deps installs it); expected "
                             f"GNU binutils for ARM to build an ARM source")
    with tempfile.TemporaryDirectory(prefix="kasou-grade-arm-") as tmp:
        objs = []
        for k, path in enumerate(files):
            obj = os.path.join(tmp, f"{k}.o")
            folder = os.path.dirname(path)
            r = _tool([CROSS + "as", "-march=armv7-a", "-g", f"-I{folder}", "-o", obj, path],
                      path, roots, folder)
            if r.returncode != 0:
                raise _error(r, path, roots)
            objs.append(obj)
        elf = os.path.join(tmp, "out.elf")
        link = ["-r"] if relocatable else ["-N", f"-Ttext={LOAD_ADDR:#x}", "-e", f"{LOAD_ADDR:#x}"]
        r = _tool([CROSS + "ld", *link, "--build-id=none", "-o", elf, *objs], files[-1], roots, tmp)
        if r.returncode != 0:
            text = " ".join(r.stderr.replace(tmp + os.sep, "").split()) or \
                f"exit status {r.returncode}"
            raise BuildError(scrub(f"cannot link: {text} (ld)", roots))
        with open(elf, "rb") as f:
            data = f.read()
    if relocatable:
        return Build(b"", _symbols(data), {}, {}, set(), roots)
    try:
        img = load_elf(files[-1], data, None, "arm")
    except ImageError as e:
        raise BuildError(scrub(str(e), roots)) from None
    return _of_image(img, roots)


def _of_image(img, roots: tuple, with_lines: bool = True) -> Build:
    """The Build of a linked ELF image: a Thumb function's label keeps bit 0,
    as its ELF symbol has it, so a call enters it as BLX does."""
    symbols = {k: v | 1 if v in img.thumb else v for k, v in img.symbols.items()}
    lines, sources = (dict(img.lines), dict(img.sources)) if with_lines else ({}, {})
    return Build(img.data, symbols, lines, sources, set(), roots, img.base, img.entry,
                 set(img.thumb))


def _tool(args: list, path: str, roots: tuple, cwd: str):
    try:
        return run_tool(args, os.path.basename(path), cwd=cwd)
    except ImageError as e:
        raise BuildError(scrub(str(e), roots)) from None


def _error(r, path: str, roots: tuple) -> BuildError:
    for line in (r.stderr + r.stdout).splitlines():
        m = _ERROR.match(line)
        if m:
            return BuildError(scrub(f"{m.group(1)}:{m.group(2)}: {m.group(3)} "
                                    f"({CROSS}as)", roots))
    text = " ".join((r.stderr or r.stdout).split()) or f"exit status {r.returncode}"
    return BuildError(scrub(f"{path}:1: {text} ({CROSS}as)", roots))


def _symbols(elf: bytes) -> dict:
    """The defined labels of a relocatable ELF (their values do not matter)."""
    import io

    from elftools.elf.elffile import ELFFile
    tab = ELFFile(io.BytesIO(elf)).get_section_by_name(".symtab")
    if tab is None:
        return {}
    return {s.name: s["st_value"] for s in tab.iter_symbols()
            if s.name and s["st_shndx"] not in ("SHN_UNDEF",)
            and s["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE")}


class Unassigned:
    """The grader's device on every address of the virt board's map with
    neither RAM nor a device: the first access stops the run as a data
    abort (see the module doc).  A fetch from here is no exit the Machine
    sees, so reads give an undefined instruction (UDF), which the trapped
    vectors stop at; the access recorded then makes it a prefetch abort."""

    name = "unassigned"

    def __init__(self, base: int):
        self.base = base
        self.stop_request = None
        self.access = None          # (address, size, is_write)

    def read(self, offset: int, size: int) -> int:
        self._hit(offset, size, False)
        return UDF_T16 if size == 2 else UDF_A32

    def write(self, offset: int, size: int, value: int) -> None:
        self._hit(offset, size, True)

    def _hit(self, offset: int, size: int, write: bool) -> None:
        if self.access is None:
            self.access = (self.base + offset, size, write)
            self.stop_request = StopRequest(1, "data abort")


class ArmGradeTarget(Target):
    """One fresh ARM ``virt`` machine running one test."""

    trampoline = TRAMPOLINE
    scratch = SCRATCH

    def __init__(self, arch, build, bits, accel="interp", uart_input=b""):
        super().__init__(arch, build, bits, accel, uart_input, semihosting=True)
        self.machine.ram.load(VECTORS, WFI * 8)
        self.machine.ram.load(TRAMPOLINE, WFI)
        self.unassigned = []
        lo = 0
        for start, end in _ASSIGNED + ((1 << 32, 1 << 32),):
            if start > lo:
                dev = Unassigned(lo)
                self.machine.mmio.map(lo, start - lo, dev)
                self.machine.devices[f"grader-unassigned-{lo:x}"] = dev
                self.unassigned.append(dev)
            lo = end

    # -- state ------------------------------------------------------------------
    def _regs(self) -> list:
        return self.cpu.r

    def reg(self, name: str) -> int:
        n, _ = self.registers[name]
        if n < 16:
            return super().reg(name)
        self.machine.accel.sync_state()
        cpsr = self.cpu.cpsr
        return cpsr if n == 16 else (cpsr >> _FLAGS[name]) & 1

    def set_reg(self, name: str, value: int) -> None:
        n, _ = self.registers[name]
        if n < 16:
            return super().set_reg(name, value)
        self.machine.accel.sync_state()
        if n == 16:
            self.cpu.set_cpsr(value & 0xFFFFFFFF)
        else:
            bit = 1 << _FLAGS[name]
            self.cpu.set_cpsr(self.cpu.cpsr & ~bit | (bit if value else 0))
        self.machine.accel.state_changed()
        return None

    def state(self) -> dict:
        return {"pc": self.pc} | {n: self.reg(n) for n in SHOWN}

    @property
    def pc(self) -> int:
        return self.cpu.pc

    @property
    def sp_name(self) -> str:
        return "sp"

    # -- starting ---------------------------------------------------------------
    def _trap_vectors(self, interrupts: bool) -> None:
        if not interrupts:
            self.cpu.vbar = VECTORS

    def prepare(self, harness: bool, limit: int, interrupts: bool = False) -> Stop | None:
        """Run the harness to its first WFI (vectors trapped), or set SP to
        the top of RAM."""
        self._trap_vectors(interrupts)
        if harness:
            stop = self.run(limit)
            if stop.kind != "halt":
                return stop
            self.cpu.halted = False
        else:
            self.set_reg("sp", STACK_TOP)
        self.machine.accel.state_changed()
        self.icount = 0
        return None

    def start_at_entry(self, interrupts: bool = False) -> None:
        self._trap_vectors(interrupts)
        self.machine.accel.state_changed()

    def pass_args(self, values: list) -> None:
        for name, v in zip(ARGS, values):
            self.set_reg(name, v)
        extra = values[len(ARGS):]
        sp = (self.reg("sp") - 4 * len(extra)) & ~7
        for k, v in enumerate(extra):
            self.write(sp + 4 * k, (v & 0xFFFFFFFF).to_bytes(4, "little"))
        self.set_reg("sp", sp)

    def call(self, addr: int) -> None:
        """LR = the return trap; jump to ``addr`` (bit 0 set: Thumb code, as BLX)."""
        self.set_reg("lr", TRAMPOLINE)
        self.called = True
        self.machine.accel.sync_state()
        s = self.cpu
        thumb = 1 << 5
        s.set_cpsr(s.cpsr | thumb if addr & 1 else s.cpsr & ~thumb)
        s.pc = addr & ~1
        self.machine.accel.state_changed()

    def is_trap(self, pc: int) -> bool:
        return pc == TRAMPOLINE or (VECTORS <= pc < VECTORS + 32 and self.cpu.vbar == VECTORS)

    # -- running ----------------------------------------------------------------
    def _decode_with(self, decoder, code: bytes, addr: int, key: tuple):
        if key[0]:                  # the T bit (ArmTarget.tb_flags)
            hw, hw2 = (int.from_bytes(code[k:k + 2], "little") for k in (0, 2))
            tdec = decoder.thumb()
            if self.machine.model.arch >= 7 and hw >> 11 in T32_PREFIXES:
                # a 32-bit Thumb-2 instruction: the decoder knows BL and BLX (ARM ARM A6.1)
                insn = tdec.decode_bl32(hw, hw2, addr)
                if insn is None:
                    raise GuestException(1, None, f"32-bit Thumb-2 {hw:04x} {hw2:04x}")
            else:
                insn = tdec.decode_half(hw, addr)
        else:
            insn = decoder.decode_word(int.from_bytes(code[:4], "little"), addr)
        return insn, insn.size

    def _cpu_key(self) -> bytes:
        s = self.cpu
        return repr((s.r, s.cpsr, sorted(s.spsr.items()), s.usr_hi, s.fiq_hi,
                     sorted(s.banked.items()), s.vbar, s.halted)).encode()

    def ended(self, r) -> Stop | None:
        pc = self.pc
        if r.reason == "halt":
            if pc == TRAMPOLINE + 4 and self.called:
                return Stop("returned", pc=TRAMPOLINE)
            if VECTORS < pc <= VECTORS + 32 and self.cpu.vbar == VECTORS:
                access = self._unassigned_access()
                if access is not None:          # a fetch where nothing is
                    return Stop("fault", f"prefetch abort: the program jumped to 0x{access[0]:x}, "
                                         f"where the virt board has no memory or device",
                                pc=access[0])
                return self._fault((pc - 4 - VECTORS) // 4)
            return Stop("halt", r.message, pc=pc)
        if r.reason == "debug-exit":
            access = self._unassigned_access()
            if access is not None:
                return self._data_abort(access)
            return Stop("exit", r.message, status=r.status, pc=pc)
        return Stop("fault", f"{r.message} at 0x{pc:x}{self.at(pc)}", pc=pc)

    def _fault(self, slot: int) -> Stop:
        """An exception the program did not handle: its name, the faulting
        instruction (from the banked LR) and its source line."""
        name, arm, thumb = FAULTS.get(slot, ("exception", 4, 4))
        s = self.cpu
        was_thumb = s.get_spsr() & (1 << 5) if s.has_spsr() else 0
        at = (s.r[14] - (thumb if was_thumb else arm)) & 0xFFFFFFFF
        # decoded as the faulting code ran: in ARM or Thumb state
        key = (bool(was_thumb),) + self.machine.target.tb_flags(s)[1:]
        return Stop("fault", f"{name} at 0x{at:x}{self.at(at, key)}", pc=at)

    def _unassigned_access(self):
        """(address, size, is_write) of the first access where nothing is, or None."""
        return next((dev.access for dev in self.unassigned if dev.access is not None), None)

    def _data_abort(self, access: tuple) -> Stop:
        addr, size, write = access
        pc = self.pc
        at = pc - (2 if self.cpu.thumb else 4) if write else pc
        what = f"store of {size} bytes to" if write else f"load of {size} bytes from"
        return Stop("fault", f"data abort: {what} 0x{addr:x}, where the virt board has no "
                             f"memory or device, at 0x{at:x}{self.at(at)}", pc=at)


ARCH = ArmArch()
