"""Bare unicorn: an A32 guest on unicorn with nothing of kasou in between,
the yardstick ``emu bench`` shows as engine ``unicorn-bare`` for the Arm
guests.

What it models of the ``virt`` board (:mod:`emu.boards.virt`) is only what
the bench guests touch: RAM from 0x40000000, the image loaded and entered
at 0x40010000 (QEMU's ``KERNEL_LOAD_ADDR``) in SVC mode with IRQ and FIQ
masked (CPSR 0x1D3, as the board resets it), on unicorn's Cortex-A15 as
kasou's unicorn engine uses; the PL011's data register (0x09000000: the
written bytes are the output) and flag register (0x18: the transmit FIFO
never full, the receive FIFO empty) through one ``mmio_map`` region (every
other offset reads 0 and ignores writes); and the semihosting exit calls,
``SVC 0x123456`` with r0 = SYS_EXIT (0x18) or SYS_EXIT_EXTENDED (0x20)
(the Arm semihosting specification, "Semihosting operations"), through the
interrupt hook: ADP_Stopped_ApplicationExit ends the run with the status
(SYS_EXIT: 0; SYS_EXIT_EXTENDED: its subcode), any other reason with 1.
Any other SVC (from ARM state) enters its vector through VBAR (``lm_loop``
returns from User mode so); unicorn takes no exception itself, so the
harness stops, enters it and starts again. No block or code hook, no
instruction count, no exit addresses, no timeout. Any other exception,
semihosting call or stop is reported as ``how = "stopped"`` (status None):
the bench guests make none.
"""

from __future__ import annotations

import time

import unicorn as uc_mod
from unicorn import arm_const as A

from ..unicorn_adapter import BareRun

RAM_BASE = 0x40000000
LOAD_AT = RAM_BASE + 0x10000
RESET_CPSR = 0x1D3
UART, UART_SIZE = 0x09000000, 0x1000
UART_DR, UART_FR = 0x00, 0x18
FR_IDLE = 0x90                  # TXFE | RXFE: room to send, nothing received
EXCP_SWI = 2                    # QEMU target/arm EXCP_SWI: the interrupt hook's SVC
SEMIHOSTING_SVC = 0x123456
SYS_EXIT, SYS_EXIT_EXTENDED = 0x18, 0x20
MODE_MASK, SVC_MODE, I_BIT, T_BIT = 0x1F, 0x13, 0x80, 0x20
VBAR = (15, 0, 0, 12, 0, 0, 0)  # (coproc, is64, sec, CRn, CRm, opc1, opc2)
SVC_VECTOR = 0x08
APPLICATION_EXIT = 0x20026      # ADP_Stopped_ApplicationExit


def run_bare(image: bytes, memory: int) -> BareRun:
    """Run ``image`` as the virt board would, on bare unicorn."""
    uc = uc_mod.Uc(uc_mod.UC_ARCH_ARM, uc_mod.UC_MODE_ARM)
    uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_A15)
    uc.mem_map(RAM_BASE, memory)
    uc.mem_write(LOAD_AT, image)
    uc.reg_write(A.UC_ARM_REG_CPSR, RESET_CPSR)
    out = bytearray()
    status = []

    def uart_read(_uc, offset, _size, _ud):
        return FR_IDLE if offset == UART_FR else 0

    def uart_write(_uc, offset, _size, value, _ud):
        if offset == UART_DR:
            out.append(value & 0xFF)

    def svc(u, intno, _ud):
        u.emu_stop()
        if intno != EXCP_SWI:
            return
        pc = u.reg_read(A.UC_ARM_REG_PC)
        if int.from_bytes(u.mem_read(pc - 4, 4), "little") & 0xFFFFFF != SEMIHOSTING_SVC:
            svc_taken.append(pc)
            return
        op, param = u.reg_read(A.UC_ARM_REG_R0), u.reg_read(A.UC_ARM_REG_R1)
        if op == SYS_EXIT:
            status.append(0 if param == APPLICATION_EXIT else 1)
        elif op == SYS_EXIT_EXTENDED:
            reason, code = (int.from_bytes(u.mem_read(param + k, 4), "little") for k in (0, 4))
            status.append(code if reason == APPLICATION_EXIT else 1)

    uc.mmio_map(UART, UART_SIZE, uart_read, None, uart_write, None)
    uc.hook_add(uc_mod.UC_HOOK_INTR, svc)
    svc_taken = []
    start = LOAD_AT
    t0 = time.perf_counter()        # from the first instruction to the end, SVC entries included
    while True:
        uc.emu_start(start, 1 << 32)
        if status or not svc_taken:
            break
        start = _enter_svc(uc, svc_taken.pop())
    seconds = time.perf_counter() - t0
    if status:
        return BareRun(bytes(out), status[0], seconds, "debug-exit")
    return BareRun(bytes(out), None, seconds, "stopped")


def _enter_svc(uc, ret: int) -> int:
    """Take the Supervisor Call exception (ARM DDI 0406C B1.8.10) of an SVC
    whose next instruction is at ``ret``, from ARM state: SPSR_svc = CPSR,
    SVC mode with IRQs masked, LR_svc = ``ret``; the address to resume
    at, VBAR + 8 (unicorn takes no exception itself)."""
    cpsr = uc.reg_read(A.UC_ARM_REG_CPSR)
    uc.reg_write(A.UC_ARM_REG_CPSR, (cpsr & ~(MODE_MASK | T_BIT)) | SVC_MODE | I_BIT)
    uc.reg_write(A.UC_ARM_REG_SPSR, cpsr)
    uc.reg_write(A.UC_ARM_REG_LR, ret)
    return uc.reg_read(A.UC_ARM_REG_CP_REG, VBAR) + SVC_VECTOR
