# Lab 11, exercise 2, wrong: every AL, but only with CF = AF = 0 (256 of the 1024 inputs).
"""The answer key of lab 11, exercise 2: every DAA input, against the CPU.

    python check_daa.py IMPLEMENTATION.py

The oracle is another engine: unicorn (QEMU's TCG) executes the real
instruction, DAA, for every AL, CF and AF (1024 inputs); AL and the five
flags the SDM defines must agree (OF is undefined after DAA).  The code under test never computes an
expected value.
"""

import importlib.util
import sys

from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn.x86_const import UC_X86_REG_EAX, UC_X86_REG_EFLAGS

FLAGS = {"CF": 0, "PF": 2, "AF": 4, "ZF": 6, "SF": 7}   # EFLAGS bits (SDM Vol. 1 §3.4.3)
CODE = bytes.fromhex("27")          # daa (valid in 32-bit mode)
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
    for cf in (0,):
        for af in (0,):
            for al in range(256):
                uc.reg_write(UC_X86_REG_EAX, al)
                uc.reg_write(UC_X86_REG_EFLAGS, 0x2 | cf | af << 4)
                uc.emu_start(BASE, BASE + len(CODE))
                want_al = uc.reg_read(UC_X86_REG_EAX) & 0xFF
                eflags = uc.reg_read(UC_X86_REG_EFLAGS)
                want = {k: eflags >> bit & 1 for k, bit in FLAGS.items()}
                got_al, got = impl.daa(al, cf, af)
                if (got_al, got) != (want_al, want):
                    print(f"FAIL daa({al:#x}, CF={cf}, AF={af}): got {got_al:#x} {got}, "
                          f"the CPU gives {want_al:#x} {want}")
                    return 1
    print("all checks pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
