"""CPUID leaves for each CPU model (SDM Vol. 2A "CPUID").

The 8086 and 286 have no CPUID (the decoder gives them #UD).  ``max``
reports a GenuineIntel-style family 6 CPU with the integer features kasou
models: FPU absent, TSC, MSR, CX8, CMOV, PSE, PAE, and long mode; leaf
0x80000008 gives the address sizes: MAXPHYADDR (``model.max_phys_bits``,
checked by the page walk) and 48 linear bits.
"""

VENDOR = b"KasouKasou!!"   # 12 bytes: EBX, EDX, ECX


def cpuid_leaf(model, leaf: int, subleaf: int):
    le = int.from_bytes
    if leaf == 0:
        return (1, le(VENDOR[0:4], "little"), le(VENDOR[8:12], "little"), le(VENDOR[4:8], "little"))
    if leaf == 1:
        edx = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 15)  # PSE TSC MSR PAE CX8 CMOV
        return (0x00000663, 0, 0, edx)
    if leaf == 0x80000000:
        return (0x80000008, 0, 0, 0)
    if leaf == 0x80000001:
        return (0, 0, 0, (1 << 29) | (1 << 11))    # LM, SYSCALL
    if leaf == 0x80000008:
        return (model.max_phys_bits | (48 << 8), 0, 0, 0)
    return (0, 0, 0, 0)
