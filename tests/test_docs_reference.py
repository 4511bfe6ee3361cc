"""The reference docs cover what the code defines: every IR opcode
(docs/ir.md), every exit reason (docs/exits.md), every KVM probe
(docs/kvm-host.md)."""

import os
import re

from emu.exits import EXIT_REASONS
from emu.ir.opcodes import OPCODES

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")


def _rows(name):
    text = open(os.path.join(DOCS, name), encoding="utf-8").read()
    return {m.group(1) for m in re.finditer(r"^\| `([\w, `]+?)` \|", text, re.M)}, text


def test_every_ir_opcode_is_described():
    rows, _ = _rows("ir.md")
    assert rows == set(OPCODES), (set(OPCODES) - rows, rows - set(OPCODES))


def test_every_exit_reason_is_described():
    rows, _ = _rows("exits.md")
    assert rows == set(EXIT_REASONS), (set(EXIT_REASONS) - rows, rows - set(EXIT_REASONS))


def test_every_kvm_probe_is_described():
    from kvm.probe import PROBES
    _, text = _rows("kvm-host.md")
    missing = [n for n in PROBES if f"`{n}`" not in text]
    assert not missing, missing
