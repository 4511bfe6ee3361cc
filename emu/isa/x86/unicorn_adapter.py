"""x86 on the unicorn engine: the adapter (:mod:`emu.isa.unicorn_adapter`)
between the generic runner (:mod:`emu.accel.unicorn`) and unicorn's x86 CPU.

What is modelled, and how it maps onto unicorn 2's x86:

* **Port I/O.**  ``UC_HOOK_INSN`` for IN and OUT (INS/OUTS too: they use the
  same helpers), served at once through the engine (``port_read`` /
  ``port_write``).  Unicorn does not check IOPL and the TSS I/O permission
  bitmap (SDM Vol. 1 §18.3); kasou does, and a denied access becomes #GP(0).
* **Engine modes.**  Unicorn's QEMU runs every mode on any engine, but its
  register API is that of the mode the engine was opened in (``UC_MODE_16``
  for real and virtual-8086 mode, ``32`` for protected mode, ``64`` once
  EFER.LMA is set: only the last reaches R8-R15, the upper halves, RIP and
  the 64-bit bases; the 16-bit one starts ``emu_start`` at CS * 16 + IP).
  The block decoder marks the blocks holding MOV to CR0, LMSW, IRET, a far
  JMP/CALL or RSM (QEMU ends the block after each) ``MAY_SWITCH``; the
  engine then reads CR0, EFLAGS.VM and EFER.LMA from unicorn
  (:meth:`mode_needed`) and carries the CPU to an engine of the new mode.
  So a guest that goes real -> protected -> long mode by itself runs on the
  16-, 32- and 64-bit engines in turn.
* **Instruction boundaries.**  Blocks are decoded with capstone for the code
  segment's size.  QEMU runs a REP string instruction one iteration per
  block entry plus one entry that finds (E)CX zero; that entry is not
  counted and IP is moved past the instruction, as the interpreter does.
* **Segment registers** go into unicorn with their hidden parts as kasou
  holds them (:meth:`_put_segments`): unicorn's register API can only load
  a selector as a MOV would (from the GDT/LDT with its checks in protected
  mode, where the SS = 0 left from real mode right after the jump into
  protected mode is #GP; base = selector * 16 otherwise; only the selector
  on a 64-bit engine), so the six segment caches and the hidden flags QEMU
  derives from them (CPL, CS and SS size, whether to add segment bases)
  are written into a context of the CPU (the CPU structure itself; where
  the fields lie is checked once, :func:`_cpu_layout`) and restored.
  Nothing is read from the descriptor tables and no accessed bit is set.
* **Long-mode state.**  Writing kasou's state into a 64-bit engine goes
  through a second, 32-bit engine that never runs (the segment loader): a
  copy of the running CPU, the system registers written there through the
  32-bit API and the segment caches as above, the CPU copied back, then the
  registers only the 64-bit API reaches.  STAR, LSTAR, CSTAR,
  SFMASK and KERNEL_GS_BASE go both ways with EFER (unicorn's WRMSR/RDMSR
  helpers), FS/GS base as registers; SWAPGS, SYSRET, IRETQ and 64-bit gates
  run in unicorn.
* **Interrupts and exceptions.**  kasou delivers them with its own code
  (:mod:`emu.isa.x86.interrupts`, on the canonical state) and reloads
  unicorn, writing back only what delivery changed where it can
  (:meth:`_put_changed`).  The interrupt shadow of STI / MOV SS / POP SS,
  which unicorn's QEMU tracks but does not show, is read from the last
  instruction retired.
* **SYSCALL and SYSENTER** are hook points in unicorn (it calls
  ``UC_HOOK_INSN`` and steps over the instruction).  The hook stops unicorn
  after it; kasou runs the instruction at that address on its own semantics
  (:mod:`emu.isa.x86.step`, as the interpreter does: #UD with EFER.SCE
  clear or outside 64-bit mode, and for SYSENTER, which kasou does not
  model) and loads the result back.  So is code outside RAM.
* **CPU model** ``UC_CPU_X86_HASWELL``: the newest model whose features
  unicorn's TCG implements in full (BMI1/2, MOVBE, AVX2 are there; the
  AVX-512 models are filtered down by TCG anyway), the closest unicorn has to
  ``-cpu max``.  CPUID therefore differs from kasou's own ``max`` (a known
  divergence, listed in :mod:`emu.diff`).

Deliberate deviations and known limits (unicorn cannot do better):

* Segment registers are read back by selector only: one that unicorn
  changed is looked up in the GDT/LDT in guest memory (in real mode base =
  selector * 16), so if the guest changed the descriptor after unicorn
  loaded it, kasou sees the descriptor, not the stale cache.  Two QEMU
  habits are read the SDM's way: TR after LTR holds the busy type (QEMU
  marks only the GDT entry busy), and an IRET or far RET to an outer level
  nulls FS and GS even when their selector is already null (QEMU keeps them
  to keep a 64-bit base; kasou notes such returns from the block decoder).
* R8-R15 and the upper halves of registers are kept from the canonical
  state outside long mode; the FPU and SSE registers, which kasou does not
  model, live in unicorn only and survive an engine change but not a
  re-created engine.
* Paging is turned off in an engine before its RAM is unmapped (unicorn
  drops the range's translated code walking the guest's page tables, which
  would set accessed bits).
* Unicorn's QEMU never completes exception delivery, so its double-fault
  bookkeeping is never reset: a second contributory fault in one run is
  reported to the hook as #DF.  In real mode kasou reports that as
  INTERNAL_ERROR, naming the cause, rather than guess; in protected mode the
  engine is re-created after every fault (RAM is shared; in long mode the
  segment loader starts from a CPU that never faulted instead), and the hook's
  missing error code (and CR2) come from running the faulting instruction
  again on kasou's own semantics (:meth:`_refault`).  #UD (unicorn:
  ``UC_ERR_INSN_INVALID``) is delivered to the guest as #UD.
"""

from __future__ import annotations

import ctypes
import struct
from functools import partial

import capstone
import unicorn as uc_mod
from unicorn import x86_const as X
from unicorn.unicorn_const import UC_ERR_OK

from ...exits import InternalErrorExit, ShutdownExit
from ..ops import GuestException, IoPending
from ..unicorn_adapter import (BEFORE, FRESH, MAY_SWITCH, RECREATE, AdapterUnavailable,
                               UnicornAdapter)
from . import flags as F
from .concrete import ConcreteOps
from .core import missing_semantics
from .decode import Decoder
from .interrupts import TripleFault, deliver_exception
from .interrupts import deliver as deliver_interrupt
from .long_mode import LONG_MSRS
from .protected import check_io, descriptor_to_segment
from .semantics import REGISTRY
from .state import CR0_PE, CR0_PG, CS, EFER_LMA, Segment
from .step import decoder_key, step_one

MSR_EFER = 0xC0000080
CPU_MODEL = X.UC_CPU_X86_HASWELL

# unicorn register ids in kasou's encoding order (rax rcx rdx rbx rsp rbp rsi rdi r8..r15)
REGS64 = (X.UC_X86_REG_RAX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX, X.UC_X86_REG_RBX,
          X.UC_X86_REG_RSP, X.UC_X86_REG_RBP, X.UC_X86_REG_RSI, X.UC_X86_REG_RDI,
          X.UC_X86_REG_R8, X.UC_X86_REG_R9, X.UC_X86_REG_R10, X.UC_X86_REG_R11,
          X.UC_X86_REG_R12, X.UC_X86_REG_R13, X.UC_X86_REG_R14, X.UC_X86_REG_R15)
REGS32 = (X.UC_X86_REG_EAX, X.UC_X86_REG_ECX, X.UC_X86_REG_EDX, X.UC_X86_REG_EBX,
          X.UC_X86_REG_ESP, X.UC_X86_REG_EBP, X.UC_X86_REG_ESI, X.UC_X86_REG_EDI)
# segment registers in kasou's order ES CS SS DS FS GS
SEGS = (X.UC_X86_REG_ES, X.UC_X86_REG_CS, X.UC_X86_REG_SS, X.UC_X86_REG_DS,
        X.UC_X86_REG_FS, X.UC_X86_REG_GS)

FAR_RETURN = 2                  # block mark: ends in IRET or a far RET (see _null_outer_fs_gs)

_PREFIXES = frozenset((0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3))


def _prefixes(code: bytes) -> bytes:
    """The legacy (and REX) prefix bytes at the start of ``code``."""
    n = 0
    while n < len(code) and (code[n] in _PREFIXES or code[n] & 0xF0 == 0x40):
        n += 1
    return code[:n]


def _changes_engine(code: bytes) -> bool:
    """Can this instruction change what kind of engine the guest needs
    (CR0.PE, EFLAGS.VM, EFER.LMA)?  MOV to CR0, LMSW, IRET (to virtual-8086
    mode), far JMP/CALL (a task switch) and RSM can; QEMU ends the block
    after each of them."""
    op = code[len(_prefixes(code)):]
    if not op:
        return False
    b = op[0]
    if b in (0xCF, 0xEA, 0x9A):
        return True
    if b == 0xFF:
        return len(op) > 1 and (op[1] >> 3) & 7 in (3, 5)
    if b == 0x0F and len(op) > 1:
        if op[1] == 0xAA:
            return True
        if op[1] in (0x22, 0x01) and len(op) > 2:
            return (op[2] >> 3) & 7 == (0 if op[1] == 0x22 else 6)
    return False


def _system_state(s) -> tuple:
    """What of the CPU state unicorn keeps apart from the registers and
    segments: control registers, EFER and the long-mode MSRs, the tables."""
    return (s.cr0, s.cr2, s.cr3, s.cr4, s.efer, [s.msrs.get(i, 0) for i in LONG_MSRS],
            s.gdt_base, s.gdt_limit, s.idt_base, s.idt_limit, s.ldt, s.tr)


def _is_rep_string(code: bytes) -> bool:
    pre = _prefixes(code)
    if 0xF2 not in pre and 0xF3 not in pre:
        return False
    op = code[len(pre)] if len(pre) < len(code) else 0
    return op in (0x6C, 0x6D, 0x6E, 0x6F, 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF)


def _seg_flags(seg: Segment) -> int:
    """QEMU's SegmentCache.flags, which unicorn reads and writes for LDTR/TR:
    the descriptor's high dword in place (type bits 8-11, S 12, DPL 13-14,
    P 15, AVL 20, L 21, D/B 22, G 23)."""
    return (seg.type << 8 | seg.s << 12 | seg.dpl << 13 | seg.present << 15 | seg.avl << 20
            | seg.l << 21 | seg.db << 22 | seg.g << 23)


def _seg_from_flags(sel: int, base: int, limit: int, flags: int) -> Segment:
    return Segment(selector=sel, base=base, limit=limit, type=(flags >> 8) & 0xF,
                   s=(flags >> 12) & 1, dpl=(flags >> 13) & 3, present=(flags >> 15) & 1,
                   avl=(flags >> 20) & 1, l=(flags >> 21) & 1, db=(flags >> 22) & 1,
                   g=(flags >> 23) & 1)


# QEMU's hidden CPU flags (CPUX86State.hflags) that follow the segment caches
HF_CPL = 3
HF_CS32 = 1 << 4
HF_SS32 = 1 << 5
HF_ADDSEG = 1 << 6
HF_PE = 1 << 7
HF_CS64 = 1 << 15
DESC_B = 1 << 22                # SegmentCache.flags: D/B
SEG_CACHE = struct.Struct("<I4xQII")    # QEMU's SegmentCache: selector, base, limit, flags

# where this process's unicorn keeps them (a fact of the unicorn library
# loaded, found once: _cpu_layout)
_layout = None


class _IoRegisters:
    """CR0, EFLAGS and CS of ``uc`` in one call of unicorn's
    ``uc_reg_read_batch`` into buffers made once.  The port hooks need them
    at every IN and OUT (:meth:`X86UnicornAdapter._io_denied`); the
    binding's ``reg_read`` picks a ctypes class for each call (a generator
    over six register ranges): three of those cost ~6 us an access, this
    one call under 1 us.  (``_do_reg_read_batch`` is the binding's own
    one-line wrapper of the C function.)"""

    IDS = (X.UC_X86_REG_CR0, X.UC_X86_REG_EFLAGS, X.UC_X86_REG_CS)

    def __init__(self, uc):
        n = len(self.IDS)
        buf = bytearray(8 * n)
        self._values = (ctypes.c_uint64 * n).from_buffer(buf)
        #: the values as Python reads them without ctypes' per-item objects
        self._view = memoryview(buf).cast("Q")
        ids = (ctypes.c_int * n)(*self.IDS)
        base = ctypes.addressof(self._values)
        ptrs = (ctypes.c_void_p * n)(*(base + 8 * k for k in range(n)))
        self._read = partial(uc._do_reg_read_batch, ids, ptrs, ctypes.c_int(n))

    def unchecked(self) -> bool:
        """IN/OUT can never be refused now (real mode, or CPL <= IOPL
        outside virtual-8086 mode: SDM Vol. 1 §18.3) -- read in one call."""
        status = self._read()
        if status != UC_ERR_OK:
            raise uc_mod.UcError(status)
        cr0, fl, cs = self._view
        return not cr0 & CR0_PE or not fl & F.VM and cs & 3 <= (fl >> 12) & 3


def _cpu_layout() -> tuple:
    """Where a unicorn context image holds QEMU's segment caches and hflags:
    (offset of CPUX86State.segs, offset of hflags).  The image is the CPU
    structure itself; segs[6] (24-byte SegmentCache each, ES CS SS DS FS GS)
    comes right before ldt, and hflags, hflags2 right before segs.  Found
    once, on an engine of its own: LDTR is written through the API and looked
    for, then a real-mode DS load and the PE bit of a CR0 write must show up
    where expected."""
    global _layout
    if _layout is not None:
        return _layout
    uc = uc_mod.Uc(uc_mod.UC_ARCH_X86, uc_mod.UC_MODE_16)
    uc.reg_write(X.UC_X86_REG_LDTR, (0x5A28, 0x13579BDF, 0x2468A, 0x8200))
    ldt = bytes(uc.context_save()).find(SEG_CACHE.pack(0x5A28, 0x13579BDF, 0x2468A, 0x8200))
    segs, hflags = ldt - 6 * SEG_CACHE.size, ldt - 6 * SEG_CACHE.size - 8
    found = hflags >= 0
    if found:
        uc.reg_write(X.UC_X86_REG_DS, 0x1234)
        img = bytes(uc.context_save())
        h0 = int.from_bytes(img[hflags:hflags + 4], "little")
        uc.reg_write(X.UC_X86_REG_CR0, CR0_PE)
        h1 = int.from_bytes(bytes(uc.context_save())[hflags:hflags + 4], "little")
        ds = SEG_CACHE.unpack_from(img, segs + 3 * SEG_CACHE.size)
        found = ds == (0x1234, 0x12340, 0xFFFF, 0x9300) and h0 ^ h1 == HF_PE
    if not found:
        raise AdapterUnavailable(f"unicorn {uc_mod.__version__}: its CPU state image is not laid out "
                                 "as kasou expects (segment caches cannot be loaded)")
    _layout = (segs, hflags)
    return _layout


class X86UnicornAdapter(UnicornAdapter):
    """x86 for the unicorn engine (the methods are documented on UnicornAdapter)."""

    uc_arch = uc_mod.UC_ARCH_X86
    phys_end = 1 << 52                  # MAXPHYADDR 52
    FREE_RUN = True

    def __init__(self, engine):
        super().__init__(engine)
        _cpu_layout()
        self.machine = engine.machine
        self._ops = None             # ConcreteOps over machine.cpu, for interrupt delivery
        self._decoders = {}          # kasou decoders for instructions unicorn leaves to kasou
        self._loader = None          # a 32-bit engine that never runs: long-mode state goes through it
        self._loader_fresh = None    # its context before any use: a CPU that never faulted
        self._fresh_ctx = None       # the running engine's context when new (see refresh)
        self._md = None              # capstone for the code segment's size (_md_for_cs)
        self._cs_mode = None
        self._rep_blocks = {}        # addr -> (size, count mask): one-instruction REP string blocks
        self._ret_cpl = None         # CPL when a FAR_RETURN block was entered
        self._outward = False        # a return to an outer level since the last sync
        self._rep_done = None        # (addr, size) of the last REP's extra entry (see settle)
        self._io_fault = None        # (pc, eip, eax) of an IN/OUT the I/O bitmap denies
        self._io_regs = None         # the running engine's _IoRegisters
        self.puts_full = 0           # whole-CPU transfers after an interrupt delivery (_put_changed)

    # -- engines ---------------------------------------------------------------------------
    def mode_for(self, s) -> int:
        # protected mode runs on the 32-bit engine, whose register API is
        # protected mode's (the 16-bit one's is real mode's: a segment
        # register written there got base = selector * 16 even with CR0.PE
        # set).  Real mode stays 16-bit (a real-mode IRET diverged on a
        # 32-bit engine).
        if s.efer & EFER_LMA:
            return uc_mod.UC_MODE_64
        return uc_mod.UC_MODE_32 if s.cr0 & CR0_PE and not s.fl & F.VM else uc_mod.UC_MODE_16

    def mode_needed(self) -> int:
        uc = self.engine.uc
        if uc.reg_read(X.UC_X86_REG_MSR, MSR_EFER) & EFER_LMA:
            return uc_mod.UC_MODE_64
        if uc.reg_read(X.UC_X86_REG_CR0) & CR0_PE and not uc.reg_read(X.UC_X86_REG_EFLAGS) & F.VM:
            return uc_mod.UC_MODE_32
        return uc_mod.UC_MODE_16

    def configure(self, uc) -> None:
        uc.ctl_set_cpu_model(CPU_MODEL)

    def engine_created(self, uc, mode: int) -> None:
        uc.hook_add(uc_mod.UC_HOOK_INSN, self._hook_in, None, 1, 0, X.UC_X86_INS_IN)
        uc.hook_add(uc_mod.UC_HOOK_INSN, self._hook_out, None, 1, 0, X.UC_X86_INS_OUT)
        # SYSCALL and SYSENTER only call these hooks in unicorn (then step over
        # the instruction): kasou runs them itself (serve)
        uc.hook_add(uc_mod.UC_HOOK_INSN, self._hook_sys, None, 1, 0, X.UC_X86_INS_SYSCALL)
        uc.hook_add(uc_mod.UC_HOOK_INSN, self._hook_sys, None, 1, 0, X.UC_X86_INS_SYSENTER)
        self._io_regs = _IoRegisters(uc)
        self._cs_mode = None
        md_mode = capstone.CS_MODE_64 if mode == uc_mod.UC_MODE_64 else capstone.CS_MODE_16
        self._md = capstone.Cs(capstone.CS_ARCH_X86, md_mode)
        self._rep_blocks = {}
        self._ret_cpl = None
        self._fresh_ctx = uc.context_save()     # a CPU that never faulted (see refresh)

    def _segment_loader(self):
        """A 32-bit engine over the same RAM, never run: in long mode kasou
        writes the system state through it (see put_state)."""
        if self._loader is None:
            ram = self.machine.ram
            aux = uc_mod.Uc(uc_mod.UC_ARCH_X86, uc_mod.UC_MODE_32)
            aux.ctl_set_cpu_model(CPU_MODEL)
            # ABI: the Machine's anonymous mapping, which outlives aux (close())
            aux.mem_map_ptr(ram.base, ram.size, uc_mod.UC_PROT_ALL, ram.host_address())
            self._loader = aux
            self._loader_fresh = aux.context_save()
        return self._loader

    def before_unmap(self, uc) -> None:
        # paging off first: unicorn drops the translated code of the range,
        # walking the guest's page tables for it, and the walk would set
        # accessed bits in guest RAM
        uc.reg_write(X.UC_X86_REG_CR0, uc.reg_read(X.UC_X86_REG_CR0) & ~CR0_PG)

    def close(self) -> None:
        aux, self._loader = self._loader, None
        if aux is not None:
            self.engine.unmap_ram(aux)

    # -- blocks ----------------------------------------------------------------------------
    def extra_entry(self, uc, addr: int, size: int) -> bool:
        rep = self._rep_blocks.get(addr)
        if rep is not None and rep[0] == size:
            # QEMU runs REP string instructions one iteration per block entry and
            # re-enters once more to find (E)CX zero; that entry is not an
            # iteration (the interpreter moves IP on after the last one)
            count = uc.reg_read(X.UC_X86_REG_RCX if rep[1] >> 32 else X.UC_X86_REG_ECX)
            if not count & rep[1]:
                self._rep_done = (addr, size)
                return True
        return False

    def block_marks(self, marks: int) -> None:
        if marks & FAR_RETURN:
            self._ret_cpl = self._uc_cpl()

    def marked_block_left(self) -> None:
        if self._ret_cpl is not None:
            self._check_return()

    def decode_block(self, uc, addr: int, size: int) -> tuple:
        # QEMU's block size stops short of an instruction it translated into a
        # fault (MOV from CR0 at CPL 3: 2 of its 3 bytes): read on, keep the
        # instructions that start inside the block
        try:
            code = bytes(uc.mem_read(addr, size + 15))
        except uc_mod.UcError:
            code = bytes(uc.mem_read(addr, size))
        md = self._md_for_cs()
        ip = uc.reg_read(X.UC_X86_REG_RIP if self.engine.uc_mode == uc_mod.UC_MODE_64 else X.UC_X86_REG_EIP)
        insns = []
        for i in md.disasm(code, ip):
            if i.address - ip >= size:
                break
            insns.append(i)
        tb = tuple(addr + i.address - ip for i in insns)
        marks = 0
        if not tb or tb[-1] >= addr + size:
            tb = (addr,)
            marks = MAY_SWITCH                  # not decoded: watch it anyway
        else:
            if len(insns) == 1 and _is_rep_string(code):
                pre = _prefixes(code)
                if md.mode == capstone.CS_MODE_64:
                    asize = 4 if 0x67 in pre else 8
                else:
                    asize = 4 if (md.mode != capstone.CS_MODE_16) != (0x67 in pre) else 2
                self._rep_blocks[addr] = (size, (1 << (8 * asize)) - 1)
            if any(_changes_engine(bytes(i.bytes)) for i in insns):
                marks |= MAY_SWITCH
            last = bytes(insns[-1].bytes)
            if last[len(_prefixes(last)):][:1] in (b"\xca", b"\xcb", b"\xcf"):
                marks |= FAR_RETURN
        return tb, marks

    def _md_for_cs(self):
        bits = self._cs_bits()
        if bits != self._cs_mode:
            self._cs_mode = bits
            self._md = capstone.Cs(capstone.CS_ARCH_X86, {16: capstone.CS_MODE_16, 32: capstone.CS_MODE_32,
                                                          64: capstone.CS_MODE_64}[bits])
        return self._md

    def _cs_bits(self) -> int:
        """16, 32 or 64: the code size of unicorn's current CS."""
        uc = self.engine.uc
        if not uc.reg_read(X.UC_X86_REG_CR0) & CR0_PE or uc.reg_read(X.UC_X86_REG_EFLAGS) & F.VM:
            return 16
        sel = uc.reg_read(X.UC_X86_REG_CS)
        cs = self.machine.cpu.segs[CS]
        seg = cs if cs.selector == sel else self._descriptor(sel)
        if seg is None:
            return 16
        if seg.l and self.engine.uc_mode == uc_mod.UC_MODE_64:
            return 64
        return 32 if seg.db else 16

    def is_halt(self, code: bytes) -> bool:
        for b in code:
            if b not in _PREFIXES:
                return b == 0xF4
        return False

    def halted_before(self, pc: int) -> bool:
        # HLT is one byte, F4; its prefixes come before it
        return self.is_halt(self._bytes_before(pc, 1))

    def trap_before(self, pc: int, intno: int):
        """INT n (CD n), INT3 (CC), INTO (CE) and INT1 (F1) trap: unicorn
        reports them with the PC past the instruction; a fault with the
        faulting instruction's.  Only a fault at an instruction right after
        the bytes of an INT of its own vector would be taken for a trap."""
        two = self._bytes_before(pc, 2)
        if len(two) == 2 and two[0] == 0xCD and two[1] == intno:
            return pc - 2
        one = two[-1:]
        if one and {3: 0xCC, 4: 0xCE, 1: 0xF1}.get(intno) == one[0]:
            return pc - 1
        return None

    def _bytes_before(self, pc: int, n: int) -> bytes:
        if pc < n:
            return b""
        try:
            return bytes(self.engine.uc.mem_read(pc - n, n))
        except uc_mod.UcError:
            return b""

    # -- stops -----------------------------------------------------------------------------
    def stopped(self) -> None:
        if self._ret_cpl is not None:
            self._check_return()

    def settle(self, err, store_stop, extra: bool):
        if extra and err is None and self.pc() == self._rep_done[0]:
            self._set_ip_delta(self._rep_done[1])     # the REP is over: on to the next insn
        if store_stop is not None and err is None:
            self._past_store(*store_stop)
        fault, self._io_fault = self._io_fault, None
        if fault is not None and err is None:
            pc, eip, eax = fault
            uc = self.engine.uc
            wide = self.engine.uc_mode == uc_mod.UC_MODE_64
            uc.reg_write(X.UC_X86_REG_RIP if wide else X.UC_X86_REG_EIP, eip)   # the IN/OUT did not retire
            uc.reg_write(X.UC_X86_REG_EAX, eax)
            return 13, pc
        return None

    def _past_store(self, at: int, after: int) -> None:
        """A device asked to stop at an MMIO store: unicorn stops with the
        store done but RIP still on it, so running on would store again.
        Move RIP past it, as the interpreter and KVM leave it -- unless it is
        a REP string store with iterations left (RIP stays on it, as after
        any REP iteration)."""
        if self.pc() != at:
            return
        rep = self._rep_blocks.get(at)
        if rep is not None:
            count = self.engine.uc.reg_read(X.UC_X86_REG_RCX if rep[1] >> 32 else X.UC_X86_REG_ECX)
            if count & rep[1]:
                return
        self._set_ip_delta(after - at)

    def _set_ip_delta(self, delta: int) -> None:
        rid = X.UC_X86_REG_RIP if self.engine.uc_mode == uc_mod.UC_MODE_64 else X.UC_X86_REG_EIP
        uc = self.engine.uc
        uc.reg_write(rid, uc.reg_read(rid) + delta)

    def _uc_cpl(self) -> int:
        uc = self.engine.uc
        if not uc.reg_read(X.UC_X86_REG_CR0) & CR0_PE:
            return 0
        if uc.reg_read(X.UC_X86_REG_EFLAGS) & F.VM:
            return 3
        return uc.reg_read(X.UC_X86_REG_CS) & 3

    def _check_return(self) -> None:
        """After a block ending in IRET or a far RET: did it return to an
        outer level?  (See get_state.)"""
        if self._uc_cpl() > self._ret_cpl:
            self._outward = True
        self._ret_cpl = None

    # -- interrupts --------------------------------------------------------------------------
    def irq_enabled(self, s) -> bool:
        if s is None:
            return bool(self.engine.uc.reg_read(X.UC_X86_REG_EFLAGS) & F.IF)
        return bool(s.rflags & F.IF)

    def wakes(self, s) -> bool:
        return self.irq_enabled(s)          # HLT with IF clear waits for NMI, not modelled

    def irq_shadow(self, s) -> bool:
        return s.inhibit_irq

    def retired(self, tb: tuple, pc: int) -> None:
        self.machine.cpu.inhibit_irq = self._opened_shadow(tb, pc)

    def _opened_shadow(self, tb: tuple, pc: int) -> bool:
        """Was the last instruction unicorn retired STI, MOV SS or POP SS?"""
        if not tb:
            return False
        if pc in tb:
            i = tb.index(pc)
            if i == 0:
                return False
            last = tb[i - 1]
        else:
            last = tb[-1]
        try:
            code = bytes(self.engine.uc.mem_read(last, 4))
        except uc_mod.UcError:
            return False
        for k, b in enumerate(code):
            if b in _PREFIXES:
                continue
            if b in (0xFB, 0x17):                   # STI, POP SS
                return True
            return b == 0x8E and k + 1 < len(code) and (code[k + 1] >> 3) & 7 == 2   # MOV SS, r/m
        return False

    def interrupt(self, intno: int, pc: int, fault: bool, trap_at):
        """INT n, INT3, INTO, or a fault unicorn raised: deliver it ourselves."""
        if fault and intno == 8 and not self.engine.uc.reg_read(X.UC_X86_REG_CR0) & CR0_PE:
            return InternalErrorExit(
                "EMULATION", "unicorn reported a fault after an earlier one as #DF: its QEMU never "
                "completes delivery, so the real vector is unknown", pc=pc)
        out = self.deliver(intno, pc, fault, trap_at)
        if out is None and fault:
            # Unicorn's QEMU never completes a delivery, so it never forgets
            # this fault (env->old_exception): the next contributory fault
            # would be reported as #DF and the one after it would be a triple
            # fault, which ends every later emu_start at once, silently.  In
            # protected mode, where guests take #GP and #PF as a matter of
            # course, the engine is re-created (RAM is shared); in real mode
            # (#DE: a conformance run takes hundreds on one engine) the CPU
            # context is reset (see refresh).
            return FRESH
        return out

    def invalid_instruction(self, pc: int):
        # #UD: unicorn has no semantics for it; the guest's handler gets it
        return self.deliver(6, pc, True)

    def refresh(self) -> None:
        engine = self.engine
        s = self.machine.cpu
        cr2 = s.cr2                 # the old engine's CR2 is not to be trusted here
        self.get_state()
        s.cr2 = cr2
        if not s.cr0 & CR0_PE:
            # real mode: restoring the context of a CPU that never faulted
            # forgets the fault as well (measured: 0.5 us, against 4.4 ms for
            # a new Uc; the conformance runner takes a #DE in every other DIV
            # vector)
            engine.uc.context_restore(self._fresh_ctx)
        elif engine.uc_mode != uc_mod.UC_MODE_64:
            engine.create(engine.uc_mode)
        # (long mode: put_state starts from a CPU that never faulted)
        engine.put_state(fresh=True)

    def _concrete_ops(self):
        if self._ops is None:
            m = self.machine
            self._ops = ConcreteOps(m.cpu, m.ram, m.model, m.mmio)
        return self._ops

    def deliver(self, vector: int, pc: int, fault: bool, trap_at=None):
        """Deliver ``vector`` through the IVT/IDT; an outcome."""
        s = self.machine.cpu
        self._get_for_delivery()
        before = s.copy()
        ops = self._concrete_ops()
        sp_before = s.segs[2].base + s.regs[4]
        try:
            if fault:
                exc, insn = self._refault(ops, vector)
                deliver_exception(ops, exc, insn)
            else:
                try:
                    deliver_interrupt(ops, vector, s.rip, soft=True)
                except GuestException as e:
                    # INT n refused (protected mode: gate DPL < CPL, not
                    # present...): the fault points at the INT instruction
                    if trap_at is None or not s.cr0 & CR0_PE:
                        raise
                    s.rip = (trap_at - s.segs[CS].base) & 0xFFFFFFFF
                    deliver_exception(ops, e, None)
        except TripleFault as tf:
            return ShutdownExit(tf.describe())
        except (GuestException, IoPending) as e:
            return InternalErrorExit("EMULATION", f"cannot deliver vector {vector}: {e}", pc=pc)
        if ops.pending_exits:
            del ops.pending_exits[:]
        lo = min(sp_before, s.segs[2].base + s.regs[4]) - 16
        self.engine.uc.ctl_remove_cache(max(lo, 0), sp_before + 16)
        if self.mode_for(s) != self.engine.uc_mode:
            # real -> protected mode happened inside unicorn: a new engine of
            # the right kind, once this one has stopped
            return RECREATE
        self._put_changed(before)
        return None

    def _put_changed(self, before) -> None:
        """machine.cpu -> unicorn after kasou delivered an interrupt, writing
        only what delivery changed (the stack pointer, the flags, CS:IP ...)
        when the system state (control registers, MSRs, tables) is as it
        was: a full :meth:`put_state` (some 50 register and context
        transfers) per fault made a guest taking #UD in a loop run at a
        thousand faults a second.  Long mode, or a change of system state
        (a task switch), takes the full path."""
        s = self.machine.cpu
        if self.engine.uc_mode == uc_mod.UC_MODE_64 or _system_state(s) != _system_state(before):
            self.engine.put_state()
            self.puts_full += 1
            return
        uc = self.engine.uc
        for rid, new, old in zip(REGS32, s.regs, before.regs):
            if new != old:
                uc.reg_write(rid, new & 0xFFFFFFFF)
        rflags = s.rflags
        if rflags != before.rflags:
            uc.reg_write(X.UC_X86_REG_EFLAGS, rflags)
        if s.segs != before.segs or s.cpl != before.cpl:
            self._put_segments(uc, s)
        uc.reg_write(X.UC_X86_REG_EIP, s.rip & 0xFFFFFFFF)

    def _refault(self, ops, vector: int):
        """Unicorn's interrupt hook gets the vector but not the error code
        (nor, for #PF, CR2).  In protected mode the faulting instruction is run
        again on kasou's own semantics, from the synced state, to get both:
        (exception, None).  State is restored whatever happens."""
        s = self.machine.cpu
        exc = GuestException(vector, None, "raised by unicorn")
        if not s.cr0 & CR0_PE:
            return exc, None                # real mode: no error codes
        cs = s.segs[CS]
        dec = self._decoder(s)
        saved = s.copy()
        ops.update_paging()
        ops.flush_tlb()
        try:
            insn = dec.decode(lambda k: ops.read_lin(cs.base + saved.rip + k, 1, fetch=True), saved.rip)
            if insn.handler is not None:
                s.rip = insn.next_ip
                insn.handler(ops, insn)
        except GuestException as e:
            # unicorn reports a second contributory fault in one run as #DF
            # (its QEMU never completes a delivery): the re-run tells the truth
            if e.vector == vector or vector == 8:
                exc = e
        except IoPending:
            ops.pending_read = None
        cr2 = s.cr2
        s.load(saved)
        if exc.vector == 14:
            s.cr2 = cr2
        del ops.pending_exits[:]
        ops.io_pos = 0
        return exc, None                    # None: the return EIP is the faulting one

    def _decoder(self, s):
        """kasou's decoder for the code segment of ``s``."""
        key = decoder_key(s)
        dec = self._decoders.get(key)
        if dec is None:
            dec = self._decoders[key] = Decoder(self.machine.model.name, key[0], key[1], REGISTRY)
        return dec

    def _hook_sys(self, uc, _ud):
        """SYSCALL or SYSENTER: unicorn calls this hook instead of running the
        instruction, then steps over it.  Stop after it; kasou runs it."""
        self.engine.serve_after(self.pc())      # unicorn points at the instruction here

    def serve(self, pc: int):
        """Run the instruction at linear ``pc`` (one unicorn only stepped
        over or cannot fetch) on kasou's own semantics, as the interpreter
        runs it -- a fault it raises is delivered -- and load the result into
        unicorn.  None, or the exit that ends the run."""
        s = self.machine.cpu
        self.get_state()
        ops = self._concrete_ops()
        cs = s.segs[CS]
        s.rip = (pc - cs.base) & (0xFFFFFFFFFFFFFFFF if s.efer & EFER_LMA and cs.l else 0xFFFFFFFF)
        try:
            step_one(ops, self._decoder(s), missing_semantics)
        except TripleFault as tf:
            return ShutdownExit(tf.describe())
        except IoPending as e:
            return InternalErrorExit("EMULATION", f"unexpected port access in kasou's run of the "
                                     f"instruction at 0x{pc:x}: {e}", pc=pc)
        del ops.pending_exits[:]
        ops.io_pos = 0
        try:
            self.engine.put_state()
        except uc_mod.UcError as e:
            return InternalErrorExit("EMULATION", f"unicorn refused the state after the instruction "
                                     f"at 0x{pc:x}: {e}", pc=pc)
        return None

    def take_irq(self, vector: int):
        s = self.machine.cpu
        ops = self._concrete_ops()
        try:
            try:
                deliver_interrupt(ops, vector, s.rip)
            except GuestException as e:
                # the delivery faulted (beyond the IVT/IDT limit, a bad gate):
                # that fault is delivered instead (SDM Vol. 3A §6.15)
                deliver_exception(ops, e, None)
        except TripleFault as tf:
            return ShutdownExit(tf.describe())
        self.engine.uc.ctl_remove_cache(max(s.segs[2].base + s.regs[4] - 16, 0),
                                        s.segs[2].base + s.regs[4] + 32)
        self.engine.put_state()
        return None

    # -- port I/O ---------------------------------------------------------------------------
    def _hook_in(self, uc, port, size, _ud):
        if not self._io_regs.unchecked() and self._io_denied(port, size):
            return 0
        return self.engine.port_read(port & 0xFFFF, size)

    def _hook_out(self, uc, port, size, value, _ud):
        if not self._io_regs.unchecked() and self._io_denied(port, size):
            return
        self.engine.port_write(port & 0xFFFF, size, value & ((1 << (8 * size)) - 1))

    def _io_denied(self, port: int, size: int) -> bool:
        """Unicorn calls the port hooks without checking IOPL and the TSS I/O
        permission bitmap (SDM Vol. 1 §18.3).  kasou checks them: the hooks
        here, when the access may be refused (not ``_IoRegisters.unchecked``);
        a denied access is not served, and the instruction becomes #GP(0)
        once unicorn has stopped (:meth:`settle`)."""
        uc = self.engine.uc
        self.get_state()
        try:
            check_io(self._concrete_ops(), port, size)
            return False
        except GuestException:
            pc = self.pc()
            self._io_fault = (pc, self.machine.cpu.rip, uc.reg_read(X.UC_X86_REG_EAX))
            self.engine.stop(BEFORE, pc)
            return True

    # -- state conversion ----------------------------------------------------------------------
    def exit_cs(self):
        uc = self.engine.uc
        if not uc.reg_read(X.UC_X86_REG_CR0) & CR0_PE or uc.reg_read(X.UC_X86_REG_EFLAGS) & F.VM:
            return uc.reg_read(X.UC_X86_REG_CS)
        return None

    def start_address(self) -> int:
        """unicorn writes emu_start's start to EIP (RIP) as it is on a 32-bit
        (64-bit) engine, and subtracts CS * 16 first on a 16-bit one."""
        uc = self.engine.uc
        mode = self.engine.uc_mode
        if mode == uc_mod.UC_MODE_64:
            return uc.reg_read(X.UC_X86_REG_RIP)
        eip = uc.reg_read(X.UC_X86_REG_EIP)
        if mode == uc_mod.UC_MODE_16:
            return (uc.reg_read(X.UC_X86_REG_CS) << 4) + (eip & 0xFFFF)
        return eip

    def pc(self) -> int:
        """Linear address of the next instruction, from unicorn."""
        uc = self.engine.uc
        if self.engine.uc_mode == uc_mod.UC_MODE_64:
            rip = uc.reg_read(X.UC_X86_REG_RIP)
            if self.machine.cpu.segs[CS].l or rip >> 32:
                return rip
            return (self._cs_base() + rip) & 0xFFFFFFFF       # compatibility mode
        eip = uc.reg_read(X.UC_X86_REG_EIP)
        return (self._cs_base() + eip) & 0xFFFFFFFF

    def _cs_base(self) -> int:
        uc = self.engine.uc
        sel = uc.reg_read(X.UC_X86_REG_CS)
        if not uc.reg_read(X.UC_X86_REG_CR0) & CR0_PE or uc.reg_read(X.UC_X86_REG_EFLAGS) & F.VM:
            return sel << 4
        cs = self.machine.cpu.segs[CS]
        if cs.selector == sel:
            return cs.base
        seg = self._descriptor(sel)
        return 0 if seg is None else seg.base

    def _descriptor(self, sel: int):
        uc = self.engine.uc
        if sel & ~3 == 0:
            return None
        if sel & 4:
            tbl = uc.reg_read(X.UC_X86_REG_LDTR)
        else:
            tbl = uc.reg_read(X.UC_X86_REG_GDTR)
        base, limit = tbl[1], tbl[2]
        idx = sel & ~7
        if idx + 7 > limit:
            return None
        try:
            raw = bytes(uc.mem_read(base + idx, 8))
        except uc_mod.UcError:
            return None
        return descriptor_to_segment(sel, int.from_bytes(raw[:4], "little"),
                                     int.from_bytes(raw[4:], "little"))

    def put_state(self, fresh: bool = False) -> None:
        """machine.cpu -> unicorn (QEMU: kvm_arch_put_registers).

        Segment registers go in with their caches as they are
        (_put_segments).  In long mode the system state is written to the
        segment loader (a 32-bit engine holding a copy of the running CPU,
        or with ``fresh`` a CPU that never faulted) through its 32-bit API,
        the whole CPU is copied back, and what only the 64-bit API reaches
        (R8-R15, upper halves, RIP, FS/GS base, 64-bit table bases) is
        written last."""
        engine = self.engine
        s = self.machine.cpu
        mode = self.mode_for(s)
        if engine.uc is None or mode != engine.uc_mode:
            engine.create(mode)
        uc = engine.uc
        if mode == uc_mod.UC_MODE_64:
            aux = self._segment_loader()
            aux.context_restore(self._loader_fresh if fresh else uc.context_save())
            aux.reg_write(X.UC_X86_REG_CR0, CR0_PE)     # leave long mode: _put_system enters it again
            self._put_system(aux, s)
            uc.context_restore(aux.context_save())
            uc.reg_write(X.UC_X86_REG_CR3, s.cr3)       # flushes the TLB (a context copy does not)
            uc.reg_write(X.UC_X86_REG_CR2, s.cr2)       # (64 bits wide here)
            self._put_tables(uc, s)
            for rid, v in zip(REGS64, s.regs):
                uc.reg_write(rid, v)
            uc.reg_write(X.UC_X86_REG_FS_BASE, s.segs[4].base)
            uc.reg_write(X.UC_X86_REG_GS_BASE, s.segs[5].base)
            uc.reg_write(X.UC_X86_REG_RIP, s.rip)
        else:
            self._put_system(uc, s)
            for rid, v in zip(REGS32, s.regs):
                uc.reg_write(rid, v & 0xFFFFFFFF)
            uc.reg_write(X.UC_X86_REG_EIP, s.rip & 0xFFFFFFFF)

    def _put_system(self, uc, s) -> None:
        """Control registers, MSRs, tables and flags of ``s`` through the
        16/32-bit register API of ``uc``, then the segment registers."""
        # control registers and flags first: the hidden flags of the segments depend on them
        uc.reg_write(X.UC_X86_REG_MSR, (MSR_EFER, s.efer))
        uc.reg_write(X.UC_X86_REG_CR4, s.cr4)
        uc.reg_write(X.UC_X86_REG_CR3, s.cr3)
        uc.reg_write(X.UC_X86_REG_CR0, s.cr0)
        uc.reg_write(X.UC_X86_REG_CR2, s.cr2)
        for idx in LONG_MSRS:
            uc.reg_write(X.UC_X86_REG_MSR, (idx, s.msrs.get(idx, 0)))
        self._put_tables(uc, s)
        uc.reg_write(X.UC_X86_REG_EFLAGS, s.rflags)
        self._put_segments(uc, s)

    @staticmethod
    def _put_segments(uc, s) -> None:
        """The six segment registers of ``s`` with their hidden parts, into
        ``uc``'s CPU as they are, and the hidden flags QEMU derives from them
        (CPL, CS32, SS32, CS64, ADDSEG: cpu_x86_load_seg_cache).

        Unicorn's register API loads a selector as a MOV would (from the
        GDT/LDT with its checks in protected mode, base = selector * 16
        otherwise); a real CPU keeps the caches whatever the tables hold.
        Right after the far jump into protected mode SS and DS still hold
        their real-mode selectors and caches -- SS = 0 as a MOV is #GP --
        and SYSCALL loads fixed descriptors whatever the GDT says.  So the
        caches are written into the CPU state image (a context, see
        _cpu_layout) and restored: nothing is read from the descriptor
        tables, no accessed bit is set in guest memory.  Must come after
        CR0, EFER and EFLAGS (the flags depend on them)."""
        segs_at, hflags_at = _cpu_layout()
        ctx = uc.context_save()
        img = bytearray(bytes(ctx))
        flags = []
        for n, seg in enumerate(s.segs):
            # an unusable (null) segment: QEMU loads a null selector with flags 0
            f = 0 if seg.unusable else _seg_flags(seg)
            SEG_CACHE.pack_into(img, segs_at + n * SEG_CACHE.size, seg.selector, seg.base, seg.limit, f)
            flags.append(f)
        h = int.from_bytes(img[hflags_at:hflags_at + 4], "little")
        h &= ~(HF_CPL | HF_CS32 | HF_SS32 | HF_ADDSEG | HF_CS64)
        h |= s.cpl
        cs = s.segs[CS]
        protected = s.cr0 & CR0_PE and not s.fl & F.VM
        if protected and s.efer & EFER_LMA and cs.l and not cs.unusable:
            h |= HF_CS32 | HF_CS64
        elif flags[CS] & DESC_B:
            h |= HF_CS32
        if flags[2] & DESC_B:
            h |= HF_SS32
        if h & HF_CS64:
            pass                                # zero base assumed for DS, ES and SS
        elif not protected or not h & HF_CS32:
            h |= HF_ADDSEG
        elif s.segs[0].base | s.segs[2].base | s.segs[3].base:
            h |= HF_ADDSEG
        img[hflags_at:hflags_at + 4] = h.to_bytes(4, "little")
        # ABI: uc_context's CPU image (CPUX86State, layout checked by _cpu_layout)
        ctypes.memmove(ctx.context, bytes(img), len(img))
        uc.context_restore(ctx)

    @staticmethod
    def _put_tables(uc, s) -> None:
        uc.reg_write(X.UC_X86_REG_GDTR, (0, s.gdt_base, s.gdt_limit, 0))
        uc.reg_write(X.UC_X86_REG_IDTR, (0, s.idt_base, s.idt_limit, 0))
        uc.reg_write(X.UC_X86_REG_LDTR, (s.ldt.selector, s.ldt.base, s.ldt.limit, _seg_flags(s.ldt)))
        uc.reg_write(X.UC_X86_REG_TR, (s.tr.selector, s.tr.base, s.tr.limit, _seg_flags(s.tr)))

    @staticmethod
    def _null_outer_fs_gs(s) -> None:
        """IRET and far RET to an outer level make ES, DS, FS and GS null when
        they hold a data (or non-conforming code) segment more privileged
        than the new CPL (SDM Vol. 2A "IRET").  QEMU does so but leaves FS and
        GS alone when their selector is already null (to keep a 64-bit base),
        so a null selector left from real mode keeps its usable cache there;
        kasou follows the SDM, and unicorn's state is read that way."""
        cpl = s.cpl
        for n in (4, 5):
            seg = s.segs[n]
            if seg.selector & 0xFFFC or seg.unusable or not seg.s:
                continue
            if (not seg.type & 8 or not seg.type & 4) and seg.dpl < cpl:
                s.segs[n] = Segment(selector=0, base=0, limit=0, present=0, unusable=1)

    def _get_real_segments(self, s) -> None:
        """The segment registers in real (or virtual-8086) mode: base =
        selector * 16, the rest of each cache as it was."""
        uc = self.engine.uc
        for n, rid in enumerate(SEGS):
            sel = uc.reg_read(rid) & 0xFFFF
            seg = s.segs[n]
            if seg.selector != sel or seg.base != sel << 4:
                seg = seg.copy()
                seg.selector, seg.base = sel, sel << 4
                if n == CS:
                    seg.type, seg.s, seg.present, seg.dpl, seg.db, seg.l = 11, 1, 1, 0, 0, 0
                s.segs[n] = seg

    def _get_for_delivery(self) -> None:
        """unicorn -> machine.cpu before kasou delivers an interrupt.  In
        real mode only what real-mode delivery reads (SDM Vol. 3A §21.1.4:
        the IVT's place, the flags, CS:IP, SS:SP): ESP, EIP, EFLAGS, CR0,
        the IDTR and the segment registers (all six: writing CS back writes
        every segment cache) -- a fourth of a whole :meth:`get_state`'s
        transfers.  The rest of machine.cpu may be stale until the next
        sync reads everything (unicorn stays ahead), and
        :meth:`_put_changed` writes back only what delivery changed.
        Elsewhere, everything."""
        uc = self.engine.uc
        cr0 = uc.reg_read(X.UC_X86_REG_CR0)
        if self.engine.uc_mode != uc_mod.UC_MODE_16 or cr0 & CR0_PE:
            self.get_state()
            return
        s = self.machine.cpu
        s.regs[4] = (s.regs[4] & ~0xFFFFFFFF) | uc.reg_read(X.UC_X86_REG_ESP)
        s.rip = uc.reg_read(X.UC_X86_REG_EIP)
        s.rflags = uc.reg_read(X.UC_X86_REG_EFLAGS)
        s.cr0 = cr0
        _, s.idt_base, s.idt_limit, _ = uc.reg_read(X.UC_X86_REG_IDTR)
        self._get_real_segments(s)
        if self._ops is not None:
            self._ops.mode_changed()

    def get_state(self) -> None:
        """unicorn -> machine.cpu (QEMU: cpu_synchronize_state)."""
        s = self.machine.cpu
        uc = self.engine.uc
        long_mode = self.engine.uc_mode == uc_mod.UC_MODE_64
        if long_mode:
            s.regs[:] = [uc.reg_read(rid) for rid in REGS64]
            s.rip = uc.reg_read(X.UC_X86_REG_RIP)
        else:
            for i, rid in enumerate(REGS32):
                s.regs[i] = (s.regs[i] & ~0xFFFFFFFF) | uc.reg_read(rid)
            s.rip = uc.reg_read(X.UC_X86_REG_EIP)
        s.rflags = uc.reg_read(X.UC_X86_REG_EFLAGS)
        s.cr0 = uc.reg_read(X.UC_X86_REG_CR0)
        s.cr2 = uc.reg_read(X.UC_X86_REG_CR2)
        s.cr3 = uc.reg_read(X.UC_X86_REG_CR3)
        s.cr4 = uc.reg_read(X.UC_X86_REG_CR4)
        s.efer = uc.reg_read(X.UC_X86_REG_MSR, MSR_EFER)
        for idx in LONG_MSRS:              # STAR LSTAR CSTAR SFMASK KERNEL_GS_BASE
            v = uc.reg_read(X.UC_X86_REG_MSR, idx)
            if v or idx in s.msrs:
                s.msrs[idx] = v
        _, s.gdt_base, s.gdt_limit, _ = uc.reg_read(X.UC_X86_REG_GDTR)
        _, s.idt_base, s.idt_limit, _ = uc.reg_read(X.UC_X86_REG_IDTR)
        sel, base, limit, flags = uc.reg_read(X.UC_X86_REG_LDTR)
        if (sel, base, limit) != (s.ldt.selector, s.ldt.base, s.ldt.limit):
            s.ldt = _seg_from_flags(sel, base, limit, flags)
        sel, base, limit, flags = uc.reg_read(X.UC_X86_REG_TR)
        if (sel, base, limit) != (s.tr.selector, s.tr.base, s.tr.limit):
            s.tr = _seg_from_flags(sel, base, limit, flags)
            if s.tr.type in (1, 9):
                # LTR and task switches mark the TSS busy, in the GDT and in
                # TR (SDM Vol. 3A 9.2.4); QEMU marks only the GDT entry
                s.tr.type |= 2
        real = not s.cr0 & CR0_PE or s.fl & F.VM
        if real:
            self._get_real_segments(s)
        for n, rid in enumerate(() if real else SEGS):
            sel = uc.reg_read(rid) & 0xFFFF
            seg = s.segs[n]
            if seg.selector != sel:
                d = self._descriptor(sel)
                s.segs[n] = d if d is not None else Segment(selector=sel, base=0, limit=0,
                                                            present=0, unusable=1)
        if self._outward:
            self._outward = False
            if not real:
                self._null_outer_fs_gs(s)
        if long_mode:
            s.segs[4].base = uc.reg_read(X.UC_X86_REG_FS_BASE)
            s.segs[5].base = uc.reg_read(X.UC_X86_REG_GS_BASE)
        if self._ops is not None:
            self._ops.mode_changed()

    def stats(self) -> dict:
        return {"delivery full puts": self.puts_full}
