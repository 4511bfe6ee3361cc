"""The grader's x86 part (:class:`emu.grade.target.Arch`): the ``pc``
board, cdecl and System V AMD64.

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
* The return trap is one ``HLT`` byte at :data:`TRAMPOLINE`, an address
  below the image that no boot-sector program uses.
* Calling conventions: cdecl in 16- and 32-bit code (arguments pushed right
  to left, result in AX/EAX, BX SI DI BP / EBX ESI EDI EBP preserved, the
  caller pops the arguments); System V AMD64 in 64-bit code (RDI RSI RDX
  RCX R8 R9, result in RAX, RBX RBP R12-R15 preserved, RSP 16-byte aligned
  at the call; System V AMD64 ABI §3.2.2-3.2.3).
* Sources: the harness, the submission and the code after it are
  assembled as one program by kasou's assembler (keystone; each file keeps
  its name and line numbers), so the submission calls into the harness's
  labels and back.  A NASM submission (``.asm``, ``.nasm``) is assembled by
  nasm itself, on its own: such an assignment has no instructor code.
"""

from __future__ import annotations

import os
import re

from ..asm import NASM_EXTENSIONS
from ..asm import nasm as nasm_assembler
from ..loader import LIBRARY, ImageError, assemble
from .target import (Arch, Build, BuildError, Stop, Target, check_includes,
                     find_submission_file, read_bytes, read_text, scrub)

MEMORY = 1 << 20
LOAD_ADDR = 0x7C00
TRAMPOLINE = 0x0500
SCRATCH = 0x60000                   # where {asciz = ...} arguments are placed
MAX_BINARY_BYTES = MEMORY - LOAD_ADDR
SYSV_ARGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
CALLEE_SAVED = {16: ("bx", "si", "di", "bp"), 32: ("ebx", "esi", "edi", "ebp"),
                64: ("rbx", "rbp", "r12", "r13", "r14", "r15")}
RETURN = {16: "ax", 32: "eax", 64: "rax"}
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


class X86Arch(Arch):
    name = "x86"
    board = "pc"
    bits = (16, 32, 64)
    ram = (0, MEMORY)
    example_registers = "eax, bx, rdi"
    example_mnemonics = "mul, div, movsb"
    packages = ("nasm",)

    def registers(self) -> dict:
        return REGISTERS

    def callee_saved(self, bits: int) -> tuple:
        return CALLEE_SAVED[bits]

    def return_register(self, bits: int) -> str:
        return RETURN[bits]

    def return_registers64(self, bits: int) -> tuple:
        return {32: ("eax", "edx"), 64: ("rax",)}.get(bits, ())

    def call_needs_harness(self, bits: int) -> bool:
        return bits != 16

    def build(self, submission_dir, spec_dir, bits, source, binary, harness, after) -> Build:
        """Assemble the harness, the submission and the code after it as one
        image, or load a prebuilt flat binary.  Raises :class:`BuildError`."""
        sub = os.path.realpath(submission_dir)
        spec = os.path.realpath(spec_dir)
        roots = (sub, spec)
        if binary is not None:
            data = read_bytes(find_submission_file(sub, binary), MAX_BINARY_BYTES, "an image")
            return Build(data, {}, {}, {}, set(range(LOAD_ADDR, LOAD_ADDR + len(data))), roots,
                         LOAD_ADDR)
        student = find_submission_file(sub, source)
        # the submission may include its own files and kasou's guest library,
        # not the spec's folder: the spec (hidden tests, expected values) is there
        check_includes(student, (sub, os.path.realpath(LIBRARY)))
        if student.endswith(NASM_EXTENSIONS):
            return _build_nasm(student, bits, harness, after, roots)
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
        return _checked(Build(img.data, dict(img.symbols), dict(img.lines), dict(img.sources),
                              set(), roots, LOAD_ADDR), student)

    def instructor_symbols(self, spec_dir, bits, harness, after) -> dict:
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

    def target(self, build, bits, accel, uart_input) -> Target:
        return X86Target(self, build, bits, accel, uart_input)


def _checked(build: Build, student: str) -> Build:
    """``build`` with the submission's bytes marked, if it fits in RAM."""
    if len(build.data) > MAX_BINARY_BYTES:
        raise BuildError(f"the image is {len(build.data)} bytes; expected at most {MAX_BINARY_BYTES}")
    build.student = build.bytes_of(student)
    return build


def _build_nasm(student: str, bits: int, harness, after, roots) -> Build:
    """A NASM submission, assembled by nasm at the load address."""
    if harness is not None or after is not None:
        raise BuildError(f"{os.path.basename(student)}: a NASM source is assembled on its own, "
                         f"and this assignment adds instructor code (build.harness/after) in "
                         f"kasou's assembler; expected a .S file")
    if not nasm_assembler.available():
        raise BuildError(f"{os.path.basename(student)}: nasm is not installed (make deps "
                         f"installs it); expected nasm for a NASM source")
    try:
        img = nasm_assembler.assemble(read_text(student), student, LOAD_ADDR, bits)
    except ImageError as e:
        raise BuildError(scrub(str(e), roots)) from None
    return _checked(Build(img.data, dict(img.symbols), dict(img.lines), dict(img.sources),
                          set(), roots, LOAD_ADDR), student)


class X86Target(Target):
    """One fresh x86 ``pc`` machine running one test."""

    trampoline = TRAMPOLINE
    scratch = SCRATCH

    def _regs(self) -> list:
        return self.cpu.regs

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

    # -- starting ---------------------------------------------------------------
    def prepare(self, harness: bool, limit: int, interrupts: bool = False) -> Stop | None:
        """Run the harness to its first HLT, or close the IVT (see the
        module doc; ``interrupts``: the program installs IVT handlers, the
        IVT stays open)."""
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

    def pass_args(self, values: list) -> None:
        if self.bits == 64:
            for name, v in zip(SYSV_ARGS, values):
                self.set_reg(name, v)
            extra = values[len(SYSV_ARGS):]
            sp = self.reg("rsp") & ~0xF
            if len(extra) % 2:
                sp -= 8
            self.set_reg("rsp", sp)
            values = extra
        for v in reversed(values):
            self.push(v)

    def call(self, addr: int) -> None:
        """Push the trampoline as the return address and jump to ``addr``."""
        self.write(TRAMPOLINE, b"\xf4")
        self.push(TRAMPOLINE)
        self.called = True
        self.machine.accel.sync_state()
        self.cpu.rip = addr - self.cpu.segs[1].base
        self.machine.accel.state_changed()

    def return_fault(self, pc: int, ret_slot: int) -> str | None:
        if self.read(pc, 1)[0] not in (0xC3, 0xC2):
            return None
        sp = self.reg(self.sp_name)
        if sp <= ret_slot:
            return None
        where = self.build.where(pc)
        return (f"stack not balanced: RET at 0x{pc:x} with {self.sp_name.upper()} "
                f"{sp - ret_slot} bytes above the return address (more popped than pushed)"
                + (f", {where}" if where else ""))

    def escape_note(self, prev: int, ret_slot: int) -> str:
        what = self.decode(prev)
        if what and what[0].startswith("ret"):
            sp = self.reg(self.sp_name) - self.width
            if sp < ret_slot:
                return (f"; the RET found {ret_slot - sp} bytes more on the stack than "
                        f"at entry (more pushed than popped)")
        return ""

    # -- running ----------------------------------------------------------------
    def _decode_with(self, decoder, code: bytes, addr: int, key: tuple):
        insn = decoder.decode(lambda k: code[k], addr - self.cpu.segs[1].base)
        return insn, insn.next_ip - insn.ip

    def _cpu_key(self) -> bytes:
        return repr(sorted(self.cpu.snapshot().items())).encode()

    def ended(self, r) -> Stop:
        if r.reason == "halt":
            if self.pc == TRAMPOLINE + 1 and self.called:
                return Stop("returned", pc=TRAMPOLINE)
            return Stop("halt", r.message, pc=self.pc)
        if r.reason == "debug-exit":
            return Stop("exit", r.message, status=r.status >> 1, pc=self.pc)
        return Stop("fault", self.describe_fault(r.message), pc=self.pc)

    def describe_fault(self, message: str) -> str:
        """The exception (the first of a triple fault's chain: the one the
        program raised; the rest come from the absent handlers), the
        instruction, its address and source line."""
        m = _TRIPLE.search(message)
        return f"{m.group(1).strip() if m else message} at 0x{self.pc:x}{self.at(self.pc)}"


ARCH = X86Arch()
