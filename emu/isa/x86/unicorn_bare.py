"""Bare unicorn: an x86 guest on unicorn with nothing of kasou in between,
the yardstick ``emu bench`` shows as engine ``unicorn-bare``.

What it models of the ``pc`` board (:mod:`emu.boards.pc`) is only what the
bench guests touch, through the port hooks (``UC_HOOK_INSN`` for IN and
OUT; INS/OUTS use the same helpers): COM1's transmitter (0x3F8, written
bytes are the output), its line status register (0x3FD: THRE and TEMT
always set, no data ready), isa-debug-exit (0xF4: the run ends with status
``(v << 1) | 1``) and the debug console (0xE9, output too); every other port
reads all ones and ignores writes.  RAM is one ``mem_map`` region from 0;
the image is loaded at 0x7C00 and entered at 0000:7C00 in real mode with
DL = 0x80 and SS:SP = 0000:7C00 (interrupts disabled), on unicorn's
Haswell CPU as kasou's unicorn engine uses.  No block or code hook, no
instruction count, no exit addresses, no timeout (unicorn's timeout is a
thread that costs time): what unicorn's users get when they ask for
nothing.  HLT ends the run with status 0; so a guest must halt or exit
(the bench guests do).  Interrupts, exceptions and MMIO are not served:
the bench guests make none; unicorn stopping anywhere else is reported as
``how = "stopped"`` (status None).
"""

from __future__ import annotations

import time

import unicorn as uc_mod
from unicorn import x86_const as X

from ..unicorn_adapter import BareRun
from .unicorn_adapter import CPU_MODEL

LOAD_AT = 0x7C00
COM1 = 0x3F8
COM1_LSR = COM1 + 5
LSR_IDLE = 0x60                 # THRE | TEMT: the transmitter is always ready
DEBUG_EXIT = 0xF4
DEBUGCON = 0xE9


def run_bare(image: bytes, memory: int) -> BareRun:
    """Run ``image`` as the pc board would, on bare unicorn."""
    uc = uc_mod.Uc(uc_mod.UC_ARCH_X86, uc_mod.UC_MODE_16)
    uc.ctl_set_cpu_model(CPU_MODEL)
    uc.mem_map(0, memory)
    uc.mem_write(LOAD_AT, image)
    uc.reg_write(X.UC_X86_REG_EDX, 0x80)
    uc.reg_write(X.UC_X86_REG_ESP, LOAD_AT)
    out = bytearray()
    status = []

    def port_in(_uc, port, _size, _ud):
        return LSR_IDLE if port == COM1_LSR else 0xFFFFFFFF

    def port_out(u, port, _size, value, _ud):
        if port in (COM1, DEBUGCON):
            out.append(value & 0xFF)
        elif port == DEBUG_EXIT:
            status.append(((value & 0xFF) << 1) | 1)
            u.emu_stop()

    uc.hook_add(uc_mod.UC_HOOK_INSN, port_in, None, 1, 0, X.UC_X86_INS_IN)
    uc.hook_add(uc_mod.UC_HOOK_INSN, port_out, None, 1, 0, X.UC_X86_INS_OUT)
    t0 = time.perf_counter()
    uc.emu_start(LOAD_AT, 1 << 32)
    seconds = time.perf_counter() - t0
    if status:
        return BareRun(bytes(out), status[0], seconds, "debug-exit")
    eip = uc.reg_read(X.UC_X86_REG_EIP)
    cs = uc.reg_read(X.UC_X86_REG_CS)
    cr0 = uc.reg_read(X.UC_X86_REG_CR0)
    pc = eip + (0 if cr0 & 1 else cs << 4)        # flat segments in protected mode
    if pc and uc.mem_read(pc - 1, 1) == b"\xf4":
        return BareRun(bytes(out), 0, seconds, "halt")
    return BareRun(bytes(out), None, seconds, "stopped")
