"""Arm assembly sources (GNU as syntax) for the virt board: assembled by
arm-none-eabi-as + ld when installed (``make deps`` installs them), by
keystone otherwise (emu/asm/arm_keystone.py).  GNU as is the judge: every
ARM guest of tests/guests/arm, and a source written to exercise what the
keystone front end rewrites, must give the same bytes and labels both
ways; errors name the file and line; ``-d asm`` says which assembler ran."""

import glob
import os
import subprocess
import sys

import pytest

from emu.loader import ImageError, load_file
from tests.conftest import REPO, tool

LOAD = 0x40010000
GUESTS = sorted(p for p in glob.glob(os.path.join(REPO, "tests", "guests", "arm", "*.S"))
                if not p.endswith("lib.S"))
#: what the keystone front end rewrites: @ comments, local labels, .equ names
#: (defined before and after use), the pre-UAL forms, ldr = (MOV, MVN, pooled
#: once, pooled at .ltorg and at the end), .align after a string, .global
SOURCE = """\
@ a test of the Arm keystone front end
        .equ    BASE, 0x09000000
        .text
        .global _start
_start: ldr     r0, =BASE               @ mov
        ldr     r1, =0xFFFFFF00         @ mvn
        ldr     r2, =0x12345678         @ pooled
        ldr     r3, =0x12345678         @ the same pool word
        ldr     r4, =table
        ldr     r5, =LATER              @ defined below: pooled, as GNU as does
        mov     r6, #3
1:      subs    r6, r6, #1
        streqb  r6, [r0, #OFFSET]
        addnes  r7, r7, #1
        bne     1b
        b       2f
        .ltorg
2:      ldmeqia r4!, {r0, r1}
        b       .
msg:    .asciz  "odd"
        .align  2
table:  .word   msg, 7, 'A'
        .equ    LATER, 0x1234
        .equ    OFFSET, 0x18
        ldr     r0, =0x87654321
"""


def _both(path):
    tool("arm-none-eabi-as")
    gas = load_file(path, base=LOAD, arch="arm", assembler="gas", elf_base=None)
    ks = load_file(path, base=LOAD, arch="arm", assembler="keystone", elf_base=None)
    return gas, ks


@pytest.mark.parametrize("path", GUESTS, ids=[os.path.basename(p)[:-2] for p in GUESTS])
def test_both_assemblers_make_the_same_guest(path):
    gas, ks = _both(path)
    assert ks.data == gas.data
    assert ks.symbols == {k: v for k, v in gas.symbols.items() if not k.startswith("$")}
    assert gas.base == ks.base == LOAD and gas.entry == LOAD and ks.entry is None
    assert gas.assembler.startswith("GNU assembler") and ks.assembler.startswith("keystone")
    for img in (gas, ks):
        assert img.assembler.endswith("GNU as Arm syntax")


def test_both_assemblers_agree_on_what_keystone_reads_differently(tmp_path):
    path = tmp_path / "front.S"
    path.write_text(SOURCE)
    gas, ks = _both(str(path))
    assert ks.data == gas.data
    assert ks.symbols == {k: v for k, v in gas.symbols.items() if not k.startswith("$")}
    # the line map: the first instruction, and the loop's label line
    for img in (gas, ks):
        assert img.lines[LOAD] == (str(path), 5)
        assert img.lines[LOAD + 4 * 7] == (str(path), 12)


@pytest.mark.parametrize("assembler", ["gas", "keystone"])
def test_an_error_names_the_file_and_line(tmp_path, assembler):
    path = tmp_path / "bad.S"
    path.write_text("_start: mov r0, #1\n        nop\n        frob r1, r2\n")
    with pytest.raises(ImageError) as e:
        load_file(str(path), base=LOAD, arch="arm", assembler=assembler, elf_base=None)
    assert str(e.value).startswith(f"{path}:3: ") and "\n" not in str(e.value)


def test_keystone_refuses_sections_in_one_line(tmp_path):
    path = tmp_path / "data.S"
    path.write_text("_start: b .\n        .data\nx:      .word 1\n")
    with pytest.raises(ImageError, match=r"data\.S:2: keystone assembles one section"):
        load_file(str(path), base=LOAD, arch="arm", assembler="keystone", elf_base=None)


def _run(args, env=None):
    return subprocess.run([sys.executable, "-m", "emu", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)


def test_emu_run_assembles_an_arm_source_and_says_how(tmp_path):
    hello = os.path.join(REPO, "tests", "guests", "arm", "hello.S")
    tool("arm-none-eabi-as")
    r = _run(["run", "-M", "virt", "-semihosting", "-d", "asm", hello])
    assert r.returncode == 0, r.stderr
    assert "Hello from the virt board" in r.stdout
    assert f"asm: {hello}: GNU assembler" in r.stderr
    # without the cross binutils on the PATH: keystone, the same program
    env = {**os.environ, "PATH": str(tmp_path)}
    r = _run(["run", "-M", "virt", "-semihosting", "-d", "asm", hello], env=env)
    assert r.returncode == 0, r.stderr
    assert "Hello from the virt board" in r.stdout
    assert f"asm: {hello}: keystone" in r.stderr
    bad = tmp_path / "bad.S"
    bad.write_text("_start: nop\n        frob r1\n")
    r = _run(["run", "-M", "virt", str(bad)], env=env)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"emu run: {bad}:2: ")
