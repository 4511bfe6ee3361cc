"""Text for decoded instructions (Intel syntax), read off the decoder's own output.

capstone is used to cross-check the decoder in tests and for display where
a learner prefers it; this formatter shows exactly what kasou decoded.
"""

from __future__ import annotations

from .kinds import IMM, MEM, REG

R64 = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
R32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi") + tuple(f"r{i}d" for i in range(8, 16))
R16 = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di") + tuple(f"r{i}w" for i in range(8, 16))
R8 = ("al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil") + tuple(f"r{i}b" for i in range(8, 16))
R8H = ("ah", "ch", "dh", "bh")
SEGS = ("es", "cs", "ss", "ds", "fs", "gs")
PTR = {1: "byte", 2: "word", 4: "dword", 8: "qword", 6: "fword", 10: "tbyte"}

# encoding name -> mnemonic where they differ
MNEMONIC = {
    "PUSH_SEG": "push", "POP_SEG": "pop", "MOV_FROM_SEG": "mov", "MOV_TO_SEG": "mov",
    "IMUL1": "imul", "IMUL2": "imul", "IMUL3": "imul", "CALL_IND": "call", "JMP_IND": "jmp",
    "CALLF": "call far", "CALLF_IND": "call far", "JMPF": "jmp far", "JMPF_IND": "jmp far",
    "RETF": "retf", "MOV_FROM_CR": "mov", "MOV_TO_CR": "mov", "MOV_FROM_DR": "mov",
    "MOV_TO_DR": "mov", "NOP_EV": "nop", "INT3": "int3", "INT1": "int1", "SETMOC": "setmo",
}
MNEMONIC.update({n + "_CL": n.lower() for n in ("ROL", "ROR", "RCL", "RCR", "SHL", "SHR", "SAL",
                                               "SAR", "SHLD", "SHRD")})
CC = ("o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g")


def reg_name(n: int, size: int, hi: bool = False) -> str:
    if hi:
        return R8H[n]
    return {1: R8, 2: R16, 4: R32, 8: R64}[size][n]


def mem_text(m) -> str:
    names = {2: R16, 4: R32, 8: R64}[m.asize]
    parts = []
    if m.base >= 0:
        parts.append(names[m.base])
    if m.index >= 0:
        parts.append(names[m.index] + (f"*{m.scale}" if m.scale > 1 else ""))
    disp = m.disp
    if disp or not parts:
        if parts and disp >> (8 * m.asize - 1):
            parts.append(f"- 0x{((1 << (8 * m.asize)) - disp):x}")
        else:
            parts.append(f"0x{disp:x}")
    inner = " + ".join(parts).replace("+ -", "-")
    ptr = PTR.get(m.size, "")
    return (f"{ptr} ptr " if ptr else "") + f"{SEGS[m.seg]}:[{inner}]"


def _system_register_form(insn) -> str | None:
    """0F 01 /7 with a register operand is not INVLPG: F8 is SWAPGS, F9
    RDTSCP (SDM Vol. 2B); the decoder keeps them under INVLPG's row."""
    if insn.name == "INVLPG" and insn.ops and insn.ops[0].kind == REG:
        return {0: "swapgs", 1: "rdtscp"}.get(insn.ops[0].n, "(bad)")
    if insn.name == "NOP90" and insn.ops[0].n == 0:
        # 64-bit mode's 90 row: NOP (PAUSE with F3) unless REX.B names R8
        return "pause" if insn.rep == 0xF3 else "nop"
    return None


def mnemonic(insn) -> str:
    n = insn.name
    special = _system_register_form(insn)
    if special:
        return special
    if n == "NOP90":
        return "xchg"
    if n in ("JCC", "SETCC", "CMOVCC"):
        return {"JCC": "j", "SETCC": "set", "CMOVCC": "cmov"}[n] + CC[insn.cc]
    if n in ("MOVS", "CMPS", "STOS", "LODS", "SCAS", "INS", "OUTS"):
        suffix = {1: "b", 2: "w", 4: "d", 8: "q"}[insn.size]
        pre = {0xF3: "rep " if n not in ("CMPS", "SCAS") else "repe ", 0xF2: "repne "}.get(insn.rep, "")
        return pre + n.lower() + suffix
    if n == "CBW":
        return {2: "cbw", 4: "cwde", 8: "cdqe"}[insn.osize]
    if n == "CWD":
        return {2: "cwd", 4: "cdq", 8: "cqo"}[insn.osize]
    if n in ("PUSHA", "POPA", "PUSHF", "POPF", "IRET"):
        return n.lower() + ("d" if insn.osize == 4 else ("q" if insn.osize == 8 and n != "PUSHA" else ""))
    return MNEMONIC.get(n, n.lower())


def format_insn(insn) -> str:
    ops = []
    if insn.name in ("CALLF", "JMPF") and insn.far:
        ops.append(f"0x{insn.far[0]:x}:0x{insn.far[1]:x}")
    elif insn.name not in ("MOVS", "CMPS", "STOS", "LODS", "SCAS", "INS", "OUTS") \
            and not _system_register_form(insn):
        for o in insn.ops:
            if o.kind == IMM:
                ops.append(f"0x{o.value:x}")
            elif o.kind == REG:
                ops.append(reg_name(o.n, o.size, o.hi))
            elif o.kind == MEM:
                ops.append(mem_text(o))
            else:
                ops.append(repr(o))
    text = mnemonic(insn)
    if insn.lock:
        text = "lock " + text
    return text + (" " + ", ".join(ops) if ops else "")
