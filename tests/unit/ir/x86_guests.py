"""Small x86 test guests for the translator's tests: run one on an engine,
and the code that prints 16-bit registers on COM1 before the guest ends."""

from emu import loader
from emu.machine import Machine


def count_loop(high: int) -> str:
    """The head of a loop over CL = 70..0 (ECX counts down to -1, ``again``
    at the top, EAX a hashed ECX, BP 0x9001, SI and DI 0), the dwords at
    0:0x9000 = 0x81234567 and 0:0x9004 = ``high``: every count of a shift
    or rotate by CL, masked or not."""
    return f"""
    xor ax, ax
    mov ds, ax
    xor si, si
    xor di, di
    mov bp, 0x9001
    mov dword ptr [0x9000], 0x81234567
    mov dword ptr [0x9004], {high:#x}
    mov ecx, 70
again:
    mov eax, ecx
    imul eax, eax, 0x9e3779b1
"""


def real_entry(*vectors) -> str:
    """The start of a 16-bit guest: DS = SS = 0, SP 0x7000, and each of
    ``vectors`` -- (vector, handler) or (vector, offset, segment) -- in the
    real-address-mode vector table (SDM Vol. 3A ch. 20), segment 0 unless
    given."""
    lines = ["", "    xor ax, ax", "    mov ds, ax", "    mov ss, ax", "    mov sp, 0x7000"]
    for vector, offset, *segment in vectors:
        lines += [f"    mov word ptr [{vector:#x} * 4], {offset}",
                  f"    mov word ptr [{vector:#x} * 4 + 2], {segment[0] if segment else 0:#x}"]
    return "\n".join(lines) + "\n"


#: the start of a 16-bit guest with #GP's vector (13) at the label ``gp``
#: the guest defines
REAL_GP_ENTRY = "\n    .code16" + real_entry((13, "gp"))


def descriptor_tables(descriptors, gates: dict) -> str:
    """A protected-mode guest's ``gdt`` (the null descriptor, then each of
    ``descriptors``: a directive's text) with ``gdt_desc``, and its ``idt``
    -- ``gates``: vector -> (handler, type and attribute word), selector
    0x08, the vectors between them empty -- with ``idt_desc`` (SDM Vol. 3A
    §3.5.1, §6.11)."""
    lines = ["gdt:", "    .long 0, 0"] + [f"    {d}" for d in descriptors]
    lines += ["gdt_desc:", f"    .word {len(descriptors) + 1} * 8 - 1", "    .long gdt", "idt:"]
    at = 0
    for vector in sorted(gates):
        handler, kind = gates[vector]
        if vector > at:
            lines.append(f"    .fill 8 * {vector - at}, 1, 0")
        lines.append(f"    .word {handler}, 0x08, {kind:#06x}, 0")
        at = vector + 1
    lines += ["idt_desc:", f"    .word {at:#x} * 8 - 1", "    .long idt"]
    return "\n".join(lines) + "\n"


def print_words(*regs) -> str:
    """Assembly printing each 16-bit register of ``regs`` (low byte first)
    on COM1, then isa-debug-exit with 0 (AX and DX are overwritten)."""
    lines = ["    mov dx, 0x3f8"]
    for r in regs:
        lines += [f"    mov ax, {r}", "    out dx, al", "    mov al, ah", "    out dx, al"]
    return "\n".join(lines + ["    mov al, 0", "    out 0xf4, al", ""])


def run_guest(source: str, accel: str, limit: int, log=None):
    """(COM1 output, the engine's stats) of ``source`` (16-bit at 0x7C00)
    run on ``accel`` until it exits through isa-debug-exit; ``log`` gets the
    generated code (``-d out_asm``)."""
    m = Machine(accel=accel, log=log, log_flags=("out_asm",) if log is not None else ())
    try:
        m.load_image(loader.assemble(source, "<test>", 0x7C00).data)
        r = m.run(icount_limit=limit)
        assert (r.reason, r.status) == ("debug-exit", 1), r.message
        return m.serial_output(), m.accel.stats()
    finally:
        m.close()
