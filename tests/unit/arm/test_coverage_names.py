"""The ARM Target's part of ``emu coverage`` (emu/isa/arm/coverage.py) and
of the grader's instruction names (emu/isa/arm/names.py): the report lists
exactly the encodings a model decodes but does not execute, and what
stops the engine; every decoded instruction is named by a mnemonic that
``mnemonics()`` knows."""

import random
import subprocess
import sys

import pytest

from emu import coverage
from emu.isa.arm import coverage as arm_coverage
from emu.isa.arm.models import get_model
from emu.isa.arm.semantics import REGISTRY, undefined
from emu.isa.arm.table import COMPILED
from emu.isa.arm.target import TARGET
from emu.isa.arm.thumb import ArmDecoder
from tests.conftest import REPO

MODELS = ("arm7tdmi", "cortex-a15")


@pytest.mark.parametrize("model", MODELS)
def test_lists_exactly_the_a32_rows_that_do_not_execute(model):
    arch = get_model(model).arch
    listed = {name for _, name, _ in arm_coverage.unimplemented(model)}
    for row in COMPILED:
        if row.arch > arch:
            assert row.name not in listed
            continue
        fn = REGISTRY.get(row.name)
        refused = fn is None or fn is undefined or row.name in ("MCR", "MRC")
        refused = refused and row.name not in arm_coverage.ARCH_UNDEFINED
        assert (row.name in listed) == refused, row.name


def test_a_missing_semantic_function_shows_up(monkeypatch):
    monkeypatch.delitem(REGISTRY.table, "CLZ")
    assert ("cccc 0001 0110 xxxx dddd xxxx 0001 mmmm", "CLZ",
            "A32: undefined-instruction exception") in arm_coverage.unimplemented("cortex-a15")
    assert "CLZ" in coverage.report("cortex-a15", "virt")


def test_report_names_the_thumb2_gaps_and_counts():
    text = coverage.report(None, "virt")
    first = text.splitlines()[0]
    total, rows, _ = TARGET.coverage("cortex-a15")
    assert first == (f"arm -cpu cortex-a15: {total - len(rows)} of {total} decoded encodings "
                     f"have semantics")
    assert "not modelled (2; the engine stops with INTERNAL_ERROR):" in text
    assert "Thumb-2 (T32" in text and "IT blocks" in text
    assert "MRS_banked" in text
    # ARMv4T has neither Thumb-2 nor the banked MRS/MSR
    text = coverage.report("arm7tdmi", "virt")
    assert "Thumb-2" not in text and "MRS_banked" not in text and "MCR " in text


def test_cli_coverage_on_the_virt_board():
    r = subprocess.run([sys.executable, "-m", "emu", "coverage", "-M", "virt", "-cpu", "arm7tdmi"],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("arm -cpu arm7tdmi: ")
    r = subprocess.run([sys.executable, "-m", "emu", "coverage", "-M", "virt", "-cpu", "max"],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "unknown ARM CPU model 'max'" in r.stderr


@pytest.mark.parametrize("word,text,name", [
    (0x02910001, "addseq r0, r1, #1", "add"),
    (0xE1A00101, "lsl r0, r1, #2", "mov"),
    (0xE92D4010, "push {r4, lr}", "stm"),
    (0xE6000010, ".word 0xe6000010", "undefined"),
    (0xE6F00000, "ldrbt r0, [r0], r0", "ldrb"),
])
def test_describe_insn(word, text, name):
    dec = ArmDecoder(get_model("cortex-a15"), REGISTRY)
    assert TARGET.describe_insn(dec.decode_word(word, 0x1000)) == (name, text)


@pytest.mark.parametrize("model", MODELS)
def test_every_decoded_instruction_has_a_known_mnemonic(model):
    known = TARGET.mnemonics()
    dec = ArmDecoder(get_model(model), REGISTRY)
    rng = random.Random(7)
    seen = set()
    for _ in range(3000):
        seen.add(TARGET.describe_insn(dec.decode_word(rng.getrandbits(32), 0x1000))[0])
    thumb = dec.thumb()
    for hw in range(0, 0x10000, 11):    # every T16 row, many times over
        if hw >> 11 not in (0b11101, 0b11110, 0b11111) or model == "arm7tdmi":
            seen.add(TARGET.describe_insn(thumb.decode_half(hw, 0x1000))[0])
    assert seen <= known, sorted(seen - known)
    assert {"add", "ldr", "stm", "b", "bl", "cbz", "cbnz", "it", "undefined"} <= known
    assert len(seen) > 40
