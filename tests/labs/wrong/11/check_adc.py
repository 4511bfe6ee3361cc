# Lab 11, exercise 1, wrong: AF read from EFLAGS bit 3 (reserved, always 0) instead of bit 4.
"""The answer key of lab 11, exercise 1: every ADC input, against the CPU.

    python check_adc.py IMPLEMENTATION.py

The oracle is another engine: unicorn (QEMU's TCG) executes the real
instruction, ADC AL, BL, for all 2 x 256 x 256 inputs; the result and the
six status flags must agree.  The code under test never computes an
expected value.
"""

import importlib.util
import sys

from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn.x86_const import UC_X86_REG_EAX, UC_X86_REG_EBX, UC_X86_REG_EFLAGS

FLAGS = {"CF": 0, "PF": 2, "AF": 3, "ZF": 6, "SF": 7, "OF": 11}   # EFLAGS bits (SDM Vol. 1 §3.4.3)
CODE = bytes.fromhex("10d8")        # adc al, bl
BASE = 0x1000


def load(path):
    spec = importlib.util.spec_from_file_location("impl", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(path):
    impl = load(path)
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(BASE, 0x1000)
    uc.mem_write(BASE, CODE)
    for cf in (0, 1):
        for a in range(256):
            for b in range(256):
                uc.reg_write(UC_X86_REG_EAX, a)
                uc.reg_write(UC_X86_REG_EBX, b)
                uc.reg_write(UC_X86_REG_EFLAGS, 0x2 | cf)
                uc.emu_start(BASE, BASE + len(CODE))
                want_al = uc.reg_read(UC_X86_REG_EAX) & 0xFF
                eflags = uc.reg_read(UC_X86_REG_EFLAGS)
                want = {k: eflags >> bit & 1 for k, bit in FLAGS.items()}
                got_al, got = impl.adc8(a, b, cf)
                if (got_al, got) != (want_al, want):
                    print(f"FAIL adc8({a:#x}, {b:#x}, {cf}): got {got_al:#x} {got}, "
                          f"the CPU gives {want_al:#x} {want}")
                    return 1
    print("all checks pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
