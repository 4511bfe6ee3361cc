"""The x86 CPU state as QEMU's monitor prints it (``info registers``):
QEMU's ``x86_cpu_dump_state`` (target/i386/cpu-dump.c) -- general, segment (with QEMU's ``SegmentCache.flags``, the
descriptor's high dword bits 8-23, SDM Vol. 3A §3.4.5), descriptor-table,
control and debug registers and EFER, 64-bit wide when the CPU is in
64-bit mode, then the x87 and SSE lines (:func:`fpu_lines`).
"""

from __future__ import annotations

from .state import EFER_LMA


def _seg_flags(sg) -> int:
    """QEMU's SegmentCache.flags: the descriptor's high dword, bits 8-23."""
    return ((sg.type & 15) << 8 | sg.s << 12 | (sg.dpl & 3) << 13 | sg.present << 15
            | sg.avl << 20 | sg.l << 21 | sg.db << 22 | sg.g << 23)


def _seg_line(name, sg, wide, pe, lma) -> str:
    if wide:
        text = f"{name:<3}={sg.selector:04x} {sg.base:016x} {sg.limit:08x} {_seg_flags(sg):08x}"
    else:
        text = f"{name:<3}={sg.selector:04x} {sg.base & 0xFFFFFFFF:08x} {sg.limit:08x} {_seg_flags(sg):08x}"
    if not pe or not sg.present:
        return text
    text += f" DPL={sg.dpl} "
    t = sg.type
    if sg.s:
        if t & 8:
            text += "CS64" if sg.l else ("CS32" if sg.db else "CS16")
            text += f" [{'C' if t & 4 else '-'}{'R' if t & 2 else '-'}"
        else:
            text += "DS  " if (sg.db or lma) else "DS16"
            text += f" [{'E' if t & 4 else '-'}{'W' if t & 2 else '-'}"
        text += f"{'A' if t & 1 else '-'}]"
    else:
        names = {2: "LDT", 1: "TSS16-avl", 3: "TSS16-busy",
                 9: "TSS64-avl" if lma else "TSS32-avl", 11: "TSS64-busy" if lma else "TSS32-busy"}
        text += names.get(t, "Reserved")
    return text


def format_registers(s) -> str:
    """``info registers``: QEMU's x86_cpu_dump_state."""
    lma = bool(s.efer & EFER_LMA)
    wide = lma and bool(s.segs[1].l)
    pe = bool(s.cr0 & 1)
    fl = s.rflags
    flag_text = "".join(c if fl & bit else "-" for c, bit in
                        (("D", 0x400), ("O", 0x800), ("S", 0x80), ("Z", 0x40),
                         ("A", 0x10), ("P", 0x4), ("C", 0x1)))
    tail = f"CPL={s.cpl} II={int(bool(s.inhibit_irq))} A20=1 SMM=0 HLT={int(bool(s.halted))}"
    r = s.regs
    lines = []
    if wide:
        names = ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP",
                 "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15")
        order = (0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15)
        for k in range(0, 16, 4):
            lines.append(" ".join(f"{names[i]:<3}={r[order[i]]:016x}" for i in range(k, k + 4)))
        lines.append(f"RIP={s.rip:016x} RFL={fl:08x} [{flag_text}] {tail}")
    else:
        lines.append(f"EAX={r[0] & 0xFFFFFFFF:08x} EBX={r[3] & 0xFFFFFFFF:08x} "
                     f"ECX={r[1] & 0xFFFFFFFF:08x} EDX={r[2] & 0xFFFFFFFF:08x}")
        lines.append(f"ESI={r[6] & 0xFFFFFFFF:08x} EDI={r[7] & 0xFFFFFFFF:08x} "
                     f"EBP={r[5] & 0xFFFFFFFF:08x} ESP={r[4] & 0xFFFFFFFF:08x}")
        lines.append(f"EIP={s.rip & 0xFFFFFFFF:08x} EFL={fl:08x} [{flag_text}] {tail}")
    for name, i in (("ES", 0), ("CS", 1), ("SS", 2), ("DS", 3), ("FS", 4), ("GS", 5)):
        lines.append(_seg_line(name, s.segs[i], wide, pe, lma))
    lines.append(_seg_line("LDT", s.ldt, wide, pe, lma))
    lines.append(_seg_line("TR", s.tr, wide, pe, lma))
    if wide:
        lines.append(f"GDT=     {s.gdt_base:016x} {s.gdt_limit:08x}")
        lines.append(f"IDT=     {s.idt_base:016x} {s.idt_limit:08x}")
        lines.append(f"CR0={s.cr0:08x} CR2={s.cr2:016x} CR3={s.cr3:016x} CR4={s.cr4:08x}")
    else:
        lines.append(f"GDT=     {s.gdt_base & 0xFFFFFFFF:08x} {s.gdt_limit:08x}")
        lines.append(f"IDT=     {s.idt_base & 0xFFFFFFFF:08x} {s.idt_limit:08x}")
        lines.append(f"CR0={s.cr0:08x} CR2={s.cr2 & 0xFFFFFFFF:08x} "
                     f"CR3={s.cr3 & 0xFFFFFFFF:08x} CR4={s.cr4:08x}")
    # qemu-system-x86_64 prints the debug registers at 64 bits in every mode
    lines.append(" ".join(f"DR{i}={s.dr[i]:016x}" for i in range(4)) + " ")
    lines.append(f"DR6={s.dr[6]:016x} DR7={s.dr[7]:016x}")
    lines.append(f"EFER={s.efer:016x}")
    lines += fpu_lines(16 if wide else 8)
    return "\nCPU#0\n" + "\n".join(lines) + "\n"


#: the x87 control word and MXCSR at reset (SDM Vol. 3A, 9.1.1, Table 9-1)
FCW_RESET, MXCSR_RESET = 0x037F, 0x1F80


def fpu_lines(xmm_count: int) -> list:
    """QEMU's x87 and SSE lines of ``info registers`` (``x86_cpu_dump_state``
    with CPU_DUMP_FPU, which HMP asks for).  kasou's CPU has no x87 or SSE
    state (no such instruction runs; gdb reads their registers as zero),
    so the lines show their values at reset: FCW 037f, empty tags, MXCSR
    1f80, zero registers; ``xmm_count`` is 16 in 64-bit code, else 8."""
    lines = [f"FCW={FCW_RESET:04x} FSW=0000 [ST=0] FTW=00 MXCSR={MXCSR_RESET:08x}"]
    for i in range(0, 8, 2):
        lines.append(f"FPR{i}={0:016x} {0:04x} FPR{i + 1}={0:016x} {0:04x}")
    for i in range(0, xmm_count, 2):
        lines.append(f"XMM{i:02d}={0:016x} {0:016x} XMM{i + 1:02d}={0:016x} {0:016x}")
    return lines
