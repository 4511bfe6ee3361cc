"""The x86 debug adapter (:class:`emu.isa.debug_adapter.DebugAdapter`): what the
debugger and the gdb stub know of x86.

* **registers**: the general registers by their 64-, 32-, 16- and 8-bit
  names (SDM Vol. 1 §3.4.1, §3.7.2.1; the names of the Target's
  ``reg_names`` table), rIP, EFLAGS (shown by flag name, §3.4.3), the
  segment selectors, the control registers and EFER, and in long mode the
  FS/GS bases and IA32_KERNEL_GS_BASE (§3.4.4, Vol. 4 Table 2-2); ``$pc``
  is the linear address CS.base + rIP (Vol. 3A §3.4.2);
* **memory**: linear to physical through the guest's page tables without
  side effects (no accessed/dirty bits, no TLB, no #PF; Vol. 3A §4);
* **code**: the decoder of the CPU's current mode; CALL, far CALL and
  software INT are what ``next`` runs whole; HLT waits for an interrupt;
  the memory operands of an instruction (ModRM/SIB and the string
  instructions' DS:rSI / ES:rDI, Vol. 2A §2.1.5, Vol. 1 §7.3.9) for read
  and access watchpoints;
* **frames**: a near CALL pushes the address of the next instruction, 2, 4
  or 8 bytes in 16-, 32- or 64-bit code; a function that keeps a frame
  pointer starts with ``push bp; mov bp, sp`` so that [bp] is the caller's
  BP and [bp + w] the return address -- gdb's i386 prologue analysis and
  heuristic unwinding, in small.  A value on the stack is taken for a
  return address when the bytes just before the address it names decode as
  a CALL ending exactly there;
* **gdb**: gdb's i386 and amd64 register layouts and target descriptions
  (GDB manual, "i386 Features"; reference notes §4.3), chosen by the CPU's
  mode (see :func:`gdb_arch_for_mode`).
"""

from __future__ import annotations

from ..debug_adapter import DebugAdapter, DebugError
from ..ops import GuestException
from . import flags as F
from .long_mode import MSR_KERNEL_GS_BASE
from .state import (CR0_PG, CS, EFER_LMA, FS, GS, REG_NAMES8, REG_NAMES16, REG_NAMES32, REG_NAMES64,
                    SEG_NAMES, SS)

#: instructions ``next`` runs whole: they return to the instruction after them
CALL_LIKE = ("CALL", "CALL_IND", "CALLF", "CALLF_IND", "INT", "INT3", "INTO", "INT1")
NEAR_CALLS = ("CALL", "CALL_IND")
FAR_CALLS = ("CALLF", "CALLF_IND", "INT", "INT3", "INTO")
STRING_OPS = ("MOVS", "CMPS", "STOS", "LODS", "SCAS", "INS", "OUTS")
#: instructions whose first operand is only written
PURE_STORES = ("MOV", "MOV_FROM_SEG", "POP", "SETCC", "SLDT", "STR", "SMSW", "SGDT", "SIDT")
FLAG_NAMES = ("flags", "eflags", "rflags")
IP_NAMES = ("ip", "eip", "rip")
CONTROL = ("cr0", "cr2", "cr3", "cr4", "cr8", "efer")
#: frame setup gdb's i386 prologue analysis recognises (``i386_analyze_frame_setup``):
#: ``push ebp; mov ebp, esp`` in its two encodings, two instructions
FRAME_SETUP = (b"\x55\x89\xe5", b"\x55\x8b\xec")

# -- gdb's layouts ----------------------------------------------------------------------
#: gdb's amd64 core numbers the general registers rax rbx rcx rdx rsi rdi
#: rbp rsp r8..r15 (the i386 core keeps the encoding order)
AMD64_ORDER = (0, 3, 1, 2, 6, 7, 5, 4) + tuple(range(8, 16))
SEG_ORDER = ("cs", "ss", "ds", "es", "fs", "gs")
FPU_REGS = tuple(f"st{i}" for i in range(8)) + ("fctrl", "fstat", "ftag", "fiseg", "fioff",
                                                  "foseg", "fooff", "fop")
#: registers beyond gdb's i386/amd64 sets, in a feature of kasou's own: gdb
#: lists them in 'info registers' after the others, and $cr3, $efer work
SYSTEM_REGS = ("k_gs_base",) + CONTROL
EFLAGS_FIELDS = (("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8),
                 ("IF", 9), ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17),
                 ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21))


def gdb_arch_for_mode(mode: str) -> str:
    """The gdb architecture that describes a CPU mode.

    An x86 CPU changes mode under the debugger (a boot sector goes real ->
    protected -> long mode), but gdb reads the target description once per
    connection.  QEMU answers by always describing the widest CPU the
    binary emulates (qemu-system-x86_64: the amd64 registers, zero-extended
    in 16/32-bit modes); stock gdb then disassembles 16- and 32-bit code as
    64-bit, and ``set architecture i386`` or ``i8086`` is refused as "not
    compatible with reported target architecture i386:x86-64".  The stub
    describes the mode the CPU is in when gdb asks:

    * ``i8086`` in real mode, virtual-8086 mode and 16-bit protected mode
      (the i386 core registers -- gdb has no 16-bit set -- with 16-bit
      disassembly; ``$eip`` is the offset, ``x/i $cs*16+$eip`` shows code);
    * ``i386`` in 32-bit protected mode (plus cr0, cr2, cr3, cr4, cr8, efer);
    * ``i386:x86-64`` in long mode, compatibility mode included (the amd64
      core, ``org.gnu.gdb.i386.segments``' fs_base and gs_base, k_gs_base
      and the control registers: 64 bits wide in either).

    ``set architecture i386`` works over the i8086 description (the two are
    compatible) when the guest reaches 32-bit code; a guest that entered
    long mode shows 64-bit registers to a new connection.  (gdb 13 asserts
    on an i386 description that has the segments feature without the SSE
    one, so fs_base/gs_base are offered in long mode only.)"""
    if mode in ("long64", "compat"):
        return "i386:x86-64"
    if mode == "prot32":
        return "i386"
    return "i8086"


def register_layout(arch: str) -> list:
    """[(name, bytes, tdesc type, feature)] in remote register number order
    (reference notes §4.3), the general registers named from the Target's
    table (``reg_names``, ``REG_NAMES64``, and its 32-bit forms): the i386 core (also for i8086: gdb has no
    16-bit register set) or the amd64 core; the x87 registers read as zero.
    The 64-bit layout adds ``org.gnu.gdb.i386.segments`` (fs_base,
    gs_base), which gdb knows by name and shows in ``info registers``; 32-
    and 64-bit layouts add the control registers and EFER
    (``org.kasou.x86.system``)."""
    wide = arch == "i386:x86-64"
    if wide:
        general = tuple(REG_NAMES64[i] for i in AMD64_ORDER) + ("rip",)
    else:
        general = tuple(REG_NAMES32) + ("eip",)
    types = {"sp": "data_ptr", "bp": "data_ptr", "ip": "code_ptr"}
    out = [(name, 8 if wide else 4, types.get(name[-2:], "int64" if wide else "int32"), "core")
           for name in general]
    out.append(("eflags", 4, "i386_eflags", "core"))
    out += [(name, 4, "int32", "core") for name in SEG_ORDER]
    for name in FPU_REGS:
        out.append((name, 10, "i387_ext", "core") if name.startswith("st")
                   else (name, 4, "int", "core"))
    if wide:
        # only here: gdb 13 asserts (tdesc_use_registers) on an i386
        # description with the segments feature but no SSE feature
        out.append(("fs_base", 8, "int", "segments"))
        out.append(("gs_base", 8, "int", "segments"))
    if arch != "i8086":
        w = 8 if wide else 4
        for name in SYSTEM_REGS:
            if name == "k_gs_base" and not wide:
                continue
            out.append((name, w, "int", "system"))
    return out


def target_xml(arch: str) -> str:
    """The target description for ``arch`` (i8086, i386 or i386:x86-64)."""
    features = {"core": [], "segments": [], "system": []}
    for n, (name, size, typ, feature) in enumerate(register_layout(arch)):
        extra = ' group="float"' if name in FPU_REGS[8:] else ""
        features[feature].append(f'<reg name="{name}" bitsize="{8 * size}" type="{typ}" '
                                 f'regnum="{n}"{extra}/>')
    flags = "".join(f'<field name="{f}" start="{b}" end="{b}"/>' for f, b in EFLAGS_FIELDS)
    xml = ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
           f'<target version="1.0"><architecture>{arch}</architecture>'
           '<feature name="org.gnu.gdb.i386.core">'
           f'<flags id="i386_eflags" size="4">{flags}</flags>'
           + "".join(features["core"]) + "</feature>")
    if features["segments"]:
        xml += '<feature name="org.gnu.gdb.i386.segments">' + "".join(features["segments"]) + "</feature>"
    if features["system"]:
        xml += '<feature name="org.kasou.x86.system">' + "".join(features["system"]) + "</feature>"
    return xml + "</target>"


class X86DebugAdapter(DebugAdapter):
    """x86 for the debugger and the gdb stub (see the module docstring)."""

    pc_names = IP_NAMES
    #: the lazy flag record: the flags are compared and restored as ``rflags``
    lazy_fields = ("fl", "cc_op", "cc_res", "cc_a", "cc_b", "cc_size")
    derived_fields = ("rflags",)
    page_size = 0x1000
    gdb_placeholders = frozenset(FPU_REGS)

    def __init__(self, target, machine):
        super().__init__(target, machine)
        self.names = {8: REG_NAMES64, 4: REG_NAMES32, 2: REG_NAMES16}

    @staticmethod
    def segmented_address(seg: int, off: int) -> int:
        """Real-mode ``SEG:OFF``: (SEG << 4) + OFF (SDM Vol. 3A §20.1.1)."""
        return (seg << 4) + off

    # -- registers -------------------------------------------------------------------
    def word_size(self, state) -> int:
        mode = state.mode
        return 8 if mode == "long64" else (4 if mode in ("prot32", "compat") else 2)

    def registers(self, state) -> dict:
        w = self.word_size(state)
        mask = (1 << (8 * w)) - 1
        names = self.names[w]
        out = {names[i]: state.regs[i] & mask for i in range(16 if w == 8 else 8)}
        out[{8: "rip", 4: "eip", 2: "ip"}[w]] = state.rip & mask
        out["eflags"] = state.rflags
        for i, n in enumerate(SEG_NAMES):
            out[n] = state.segs[i].selector
        if state.efer & EFER_LMA:             # long mode: the bases SWAPGS / WRMSR change
            out["fs_base"] = state.segs[FS].base
            out["gs_base"] = state.segs[GS].base
            out["k_gs_base"] = state.msrs.get(MSR_KERNEL_GS_BASE, 0)
        return out

    def _general(self, n: str):
        """(register number, bit shift, bytes) of a general register name."""
        for w in (8, 4, 2):
            if n in self.names[w]:
                return self.names[w].index(n), 0, w
        if n in REG_NAMES8:
            i = REG_NAMES8.index(n)
            return i & 3, 8 * (i >> 2), 1
        return None

    def get_register(self, state, name: str) -> int:
        n = name.lower()
        g = self._general(n)
        if g is not None:
            i, shift, w = g
            return (state.regs[i] >> shift) & ((1 << (8 * w)) - 1)
        if n in IP_NAMES:
            return state.rip
        if n == "pc":
            return self.target.pc(state)
        if n in FLAG_NAMES:
            return state.rflags
        if n in SEG_NAMES:
            return state.segs[SEG_NAMES.index(n)].selector
        if n in CONTROL:
            return getattr(state, n)
        if n in ("fs_base", "gs_base"):
            return state.segs[FS if n == "fs_base" else GS].base
        if n == "k_gs_base":
            return state.msrs.get(MSR_KERNEL_GS_BASE, 0)
        raise DebugError(f"unknown register ${name}")

    def set_register(self, state, name: str, value: int) -> None:
        """Any name of the register file (8/16/32/64-bit, ip/eip/rip, pc,
        flags/eflags, the FS/GS bases, segment registers in real mode); a
        32-bit write zero-extends, as the CPU's own does (SDM Vol. 1 §3.4.1.1)."""
        n = name.lower()
        g = self._general(n)
        if g is not None:
            i, shift, w = g
            if w >= 4:
                state.regs[i] = value & ((1 << (8 * w)) - 1)
            else:
                mask = ((1 << (8 * w)) - 1) << shift
                state.regs[i] = (state.regs[i] & ~mask) | ((value << shift) & mask)
        elif n in IP_NAMES + ("pc",):
            state.rip = value & (0xFFFF if n == "ip" else 2 ** 64 - 1)
        elif n in FLAG_NAMES:
            state.rflags = value & 0xFFFFFFFF
        elif n in ("fs_base", "gs_base"):
            state.segs[FS if n == "fs_base" else GS].base = value & (2 ** 64 - 1)
        elif n == "k_gs_base":
            state.msrs[MSR_KERNEL_GS_BASE] = value & (2 ** 64 - 1)
        elif n in CONTROL:
            raise DebugError(f"${n}: changing a control register from the debugger is not supported "
                             "(the guest's own MOV CR / WRMSR does it)")
        elif n in SEG_NAMES:
            i = SEG_NAMES.index(n)
            if state.mode != "real":
                raise DebugError(f"${n}: loading a segment register outside real mode is not supported here")
            from .state import Segment
            state.segs[i] = Segment.real(value & 0xFFFF, code=(i == CS))
        else:
            raise DebugError(f"unknown register ${name}")

    def describe_register(self, name: str, value: int) -> str | None:
        return F.describe(value) if name in FLAG_NAMES else None

    # -- memory ----------------------------------------------------------------------
    def translate(self, state, addr: int) -> int | None:
        if not state.cr0 & CR0_PG:
            return addr
        from .concrete import ConcreteOps
        from .paging import translate_debug
        return translate_debug(ConcreteOps(state, self.machine.ram, self.machine.model), addr)

    # -- code ------------------------------------------------------------------------
    def _code_base(self, state) -> int:
        return 0 if state.mode == "long64" else state.segs[CS].base

    def decode(self, state, code: bytes, lin: int):
        dec = self.target.decoder(self.machine.model, self.target.tb_flags(state))
        try:
            return dec.decode(lambda k: code[k], lin - self._code_base(state))
        except (GuestException, IndexError) as e:     # undecodable or cut short: say so
            raise DebugError(f"cannot decode at 0x{lin:x}: {e}") from None

    def format_insn(self, insn) -> str:
        from .disasm import format_insn
        return format_insn(insn)

    def is_call(self, insn) -> bool:
        return insn.name in CALL_LIKE

    def waits_for_interrupt(self, insn) -> bool:
        return insn.name == "HLT"

    def interrupts_enabled(self, state) -> bool:
        return bool(state.rflags & F.IF)

    def privilege(self, state) -> int:
        return state.cpl

    def memory_operands(self, state, insn) -> list:
        """The destination of an instruction that only stores (MOV, POP,
        SETcc, STOS, ...) is "w", other explicit operands count as read (a
        read-modify-write reads)."""
        from .insn import MEM

        def base(seg):                      # 64-bit mode: only FS and GS have a base
            if state.mode == "long64" and seg not in (FS, GS):
                return 0
            return state.segs[seg].base
        out = []
        for k, o in enumerate(insn.ops):
            if getattr(o, "kind", None) == MEM and o.size:
                ea = o.disp
                if o.base >= 0:
                    ea += state.regs[o.base]
                if o.index >= 0:
                    ea += state.regs[o.index] * o.scale
                seg = o.seg if o.seg is not None else 3
                access = "w" if k == 0 and insn.name in PURE_STORES else "rw"
                out.append((base(seg) + (ea & o.amask), o.size, access))
        if insn.name in STRING_OPS:
            amask = (1 << (8 * insn.asize)) - 1
            if insn.name in ("MOVS", "CMPS", "LODS", "OUTS"):
                seg = insn.seg if insn.seg is not None else 3
                out.append((base(seg) + (state.regs[6] & amask), insn.size, "r"))
            if insn.name in ("MOVS", "CMPS", "STOS", "SCAS", "INS"):
                out.append((base(0) + (state.regs[7] & amask), insn.size,
                            "r" if insn.name in ("CMPS", "SCAS") else "w"))
        return out

    # -- frames ----------------------------------------------------------------------
    def _stack(self, state):
        """(word size, linear address of SS:0, SP/ESP/RSP mask) of the code."""
        if state.mode == "long64":
            return 8, 0, 2 ** 64 - 1
        w = 4 if state.segs[CS].db else 2
        return w, state.segs[SS].base, 0xFFFFFFFF if state.segs[SS].db else 0xFFFF

    def stack_pointer(self, state) -> int:
        _, base, mask = self._stack(state)
        return base + (state.regs[4] & mask)

    @staticmethod
    def _word(view, lin: int, w: int) -> int | None:
        try:
            return int.from_bytes(view.read_memory(lin, w), "little")
        except DebugError:
            return None

    @staticmethod
    def _insn_before(view, lin: int, names) -> bool:
        """An instruction named in ``names`` ends exactly at linear ``lin``."""
        for k in (5, 3, 2, 6, 7, 1, 4, 8, 9, 10):
            try:
                insn, _ = view.decode(lin - k)
            except DebugError:
                continue
            if insn.length == k and insn.name in names:
                return True
        return False

    def _return_at(self, view, slot: int, w: int, code_base: int):
        """The linear return address stored at ``slot``, if it is one: the
        address after a near CALL, or -- with the code segment pushed above
        it -- after a far CALL or a software INT (an interrupt handler's
        frame; IRET pops it as RET pops a CALL's)."""
        v = self._word(view, slot, w)
        if not v:
            return None
        if self._insn_before(view, code_base + v, NEAR_CALLS):
            return code_base + v
        if view.cpu.mode in ("real", "vm86"):
            cs = self._word(view, slot + w, w)
            if cs is None:
                return None
            lin = ((cs & 0xFFFF) << 4) + v
        else:
            lin = code_base + v             # (a flat code segment is assumed)
        if self._insn_before(view, lin, FAR_CALLS):
            return lin
        return None

    def frames(self, view, limit: int) -> list:
        """The innermost frame's slot is the first return address at or above
        SP (at the entry that is [SP]; after ``push bp`` it is [SP + w]; in a
        function without a frame pointer it is wherever its pushes left it);
        failing that (more than 64 words of locals), [BP + w].  The callers'
        slots follow the BP chain -- a frame that set up BP saved the
        caller's at [BP], one that did not leaves it in BP -- and, where the
        chain ends, the next return address further up the stack."""
        s = view.cpu
        w, ss_base, mask = self._stack(s)
        code_base = self._code_base(s)
        sp = ss_base + (s.regs[4] & mask)
        bp = ss_base + (s.regs[5] & mask)

        def ret_at(slot):
            return self._return_at(view, slot, w, code_base)

        def scan(lo):
            for k in range(64):
                if ret_at(lo + k * w) is not None:
                    return lo + k * w
            return None
        slot = scan(sp)
        if slot is None and sp <= bp and ret_at(bp + w) is not None:
            slot = bp + w
        out = [(view.pc(), slot)]
        while slot is not None and len(out) < limit:
            ret = ret_at(slot)
            if slot == bp + w:                   # this frame saved the caller's BP at [bp]
                saved = self._word(view, bp, w)
                bp = None if saved is None else ss_base + (saved & mask)
            if bp is not None and bp + w > slot and ret_at(bp + w) is not None:
                nxt = bp + w
            else:
                nxt = scan(slot + w)
            out.append((ret, nxt))
            slot = nxt
        return out

    def frame_setup(self, view, source: str) -> int:
        """``push ebp; mov ebp, esp`` (``55 89 e5`` or ``55 8b ec``) at a C
        function's entry, as gdb's i386 prologue analysis
        (``i386_analyze_frame_setup``) skips it; gdb does not recognise it
        behind an operand-size prefix, as gcc -m16 emits it.  Assembly
        functions have none (gdb skips no prologue there)."""
        if source.lower().endswith((".s", ".asm")):
            return 0
        try:
            code = view.read_memory(view.pc(), 3)
        except DebugError:
            return 0
        return 2 if code in FRAME_SETUP else 0

    # -- gdb -------------------------------------------------------------------------
    def gdb_arch(self, state) -> str:
        return gdb_arch_for_mode(state.mode)

    def gdb_registers(self, arch: str) -> list:
        return register_layout(arch)

    def gdb_target_xml(self, arch: str) -> str:
        return target_xml(arch)
