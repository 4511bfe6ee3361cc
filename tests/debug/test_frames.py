"""finish, until, advance and backtrace in `emu debug`, in 16-, 32- and 64-bit code.

The frames come from the return addresses on the stack (a value is one when
the bytes before the address it names decode as a CALL, a far CALL or a
software INT ending there) and the BP chain; the tests stop inside
functions with and without a frame pointer, after pushes, inside an
interrupt handler reached by INT (its frame is popped by IRET), and in the
outermost frame, where finish must refuse.  Addresses come from labels.
"""

import os
import re

import pytest

from emu.cli import main
from emu.loader import assemble

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUESTS = os.path.join(REPO, "tests", "guests", "x86")
KVM = pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                   reason="/dev/kvm is absent on this host"))

REAL = """
start:
    mov sp, 0x7000
    mov cx, 3
outer:
    call work
after_work:
    loop outer
    mov al, 2
    out 0xf4, al
    hlt
work:
    push bp
    mov bp, sp
    mov ax, 5
    call leaf
after_leaf:
    add ax, bx
    pop bp
    ret
leaf:
    mov bx, 7
    push bx
    inc bx
in_leaf:
    pop dx
    ret
"""


def sp_change(text, name):
    m = re.search(rf"\b{name} 0x([0-9a-f]+) -> 0x([0-9a-f]+)", text)
    assert m is not None, text
    return int(m.group(2), 16) - int(m.group(1), 16)


def transcript(tmp_path, capsys, accel, path, commands):
    """[(command, what it printed)] in order."""
    script = tmp_path / "cmds.gdb"
    script.write_text("\n".join(commands) + "\n")
    rc = main(["debug", "-accel", accel, "-x", str(script), str(path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    steps = [tuple(p.split("\n", 1)) for p in out.split("(emu) ")[1:]]
    assert [c for c, _ in steps] == commands, out
    return [text for _, text in steps]


@pytest.mark.parametrize("accel", ["interp", "tcg", KVM])
def test_real_mode_finish_until_advance(tmp_path, capsys, accel):
    guest = tmp_path / "f.S"
    guest.write_text(REAL)
    sym = assemble(REAL, "f.S").symbols
    out = transcript(tmp_path, capsys, accel, guest, [
        "finish",                                   # 0: outermost
        "b in_leaf", "c", "bt", "delete",           # 1-4: leaf, no frame pointer, after a push
        "finish", "bt", "finish",                   # 5-7: back in work, then in the loop
        "until", "until",                           # 8-9: the loop's backward jump runs the loop out
        "run", "advance leaf", "bt",                # 10-12
        "until after_work", "info registers cx",    # 13-14: through leaf's return to work, and on
        "run", "b work", "c", "delete", "until after_leaf",   # 15-19
        "quit"])
    assert '"finish" not meaningful in the outermost frame.' in out[0]
    assert f"Breakpoint 1, 0x{sym['in_leaf']:x} <in_leaf>" in out[2]
    assert out[3].splitlines() == [f"#0  0x{sym['in_leaf']:x} in in_leaf ()",
                                   f"#1  0x{sym['after_leaf']:x} in after_leaf ()",
                                   f"#2  0x{sym['after_work']:x} in after_work ()"]
    assert f"Run till exit from #0  0x{sym['in_leaf']:x} in in_leaf ()" in out[5]
    assert f"=> 0x{sym['after_leaf']:x} <after_leaf>: add ax, bx" in out[5]
    assert "dx 0x80 -> 0x7" in out[5]                      # the rest of leaf ran (pop dx)
    assert out[6].splitlines() == [f"#0  0x{sym['after_leaf']:x} in after_leaf ()",
                                   f"#1  0x{sym['after_work']:x} in after_work ()"]
    assert f"=> 0x{sym['after_work']:x} <after_work>: loop" in out[7]   # via BP: work has a frame
    assert "ax 0x5 -> 0xd" in out[7]
    assert "cx 0x3 -> 0x0" in out[8]                       # the whole loop, calls and all
    assert f"=> 0x{sym['after_work'] + 2:x} <after_work+2>: mov al, 0x2" in out[8]
    assert f"=> 0x{sym['leaf']:x} <leaf>: mov bx, 0x7" in out[11]
    assert len(out[12].splitlines()) == 3                  # leaf, work, the loop
    assert f"=> 0x{sym['after_leaf']:x} <after_leaf>:" in out[13]   # leaf returned first
    assert "cx             0x3" in out[14]
    assert f"=> 0x{sym['after_leaf']:x} <after_leaf>:" in out[19]


def test_bad_input_for_frame_commands(tmp_path, capsys):
    guest = tmp_path / "f.S"
    guest.write_text(REAL)
    out = transcript(tmp_path, capsys, "interp", guest, [
        "finish now", "until nosuch", "advance", "advance 0xfffffff0", "u 1+", "help finish",
        "help until", "help advance", "si", "quit"])
    assert out[0].strip() == "finish takes no argument (it leaves the current function)"
    assert out[1].strip().startswith('No symbol "nosuch" in current context')
    assert out[2].strip() == "Argument required (a location: an address, a label, label+N)."
    assert out[3].strip() == "cannot run to 0xfffffff0: not in RAM"
    assert len(out[4].strip().splitlines()) == 1
    assert "run until the current function returns" in " ".join(out[5].split())
    assert "runs the loop to its" in " ".join(out[6].split())
    assert "recursive calls included" in " ".join(out[7].split())
    assert "executed 0x7c00 <start>" in out[8]             # and the session goes on


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_protected_mode_finish_through_an_interrupt_handler(tmp_path, capsys, accel):
    path = os.path.join(GUESTS, "pm_boot.S")
    with open(path) as f:
        sym = assemble(f.read(), "pm_boot.S").symbols
    out = transcript(tmp_path, capsys, accel, path, [
        "b int30", "c", "b puthex", "c", "delete", "bt", "finish", "bt", "finish", "bt", "finish",
        "quit"])
    frames = out[5].splitlines()
    assert frames[0] == f"#0  0x{sym['puthex']:x} in puthex ()"
    assert frames[1].startswith("#1  0x") and " in int30+" in frames[1]
    assert frames[2].startswith("#2  0x") and " in pm32+" in frames[2]   # after INT 0x30
    assert f"Run till exit from #0  0x{sym['puthex']:x} in puthex ()" in out[6]
    assert sp_change(out[6], "esp") == 4                   # at the entry: RET pops just EIP
    assert out[7].splitlines()[0].split(" in ")[1] == frames[1].split(" in ")[1]
    assert "eflags" in out[8] and "IF" in out[8].split("eflags", 1)[1]   # IRETD restored IF
    assert out[9].splitlines() == [frames[2].replace("#2", "#0")]
    assert '"finish" not meaningful in the outermost frame.' in out[10]


@pytest.mark.parametrize("accel", ["interp", "tcg", KVM])
def test_long_mode_finish(tmp_path, capsys, accel):
    path = os.path.join(GUESTS, "long_boot.S")
    with open(path) as f:
        sym = assemble(f.read(), "long_boot.S").symbols
    out = transcript(tmp_path, capsys, accel, path, [
        "b puts64_next", "c", "delete", "bt", "finish", "quit"])
    frames = out[3].splitlines()
    assert frames[0] == f"#0  0x{sym['puts64_next']:x} in puts64_next ()"
    assert frames[1].startswith("#1  0x") and " in lm64+" in frames[1]
    assert sp_change(out[4], "rsp") == 4 * 8               # three pops, then RET
    assert f"=> {frames[1].split()[1]} <{frames[1].split(' in ')[1][:-3]}>:" in out[4]


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_long_mode_finish_from_ring0_handler_to_ring3(tmp_path, capsys, accel):
    """INT 0x80 from ring 3: the handler's IRETQ switches back to the ring-3
    stack, so the frame's end is seen as the return to its address at CPL 3."""
    path = os.path.join(GUESTS, "long_boot.S")
    with open(path) as f:
        sym = assemble(f.read(), "long_boot.S").symbols
    out = transcript(tmp_path, capsys, accel, path, [
        "b int80", "c", "delete", "bt", "finish", "info registers cs", "quit"])
    assert out[3].splitlines() == [f"#0  0x{sym['int80']:x} in int80 ()",
                                   f"#1  0x{sym['after_int']:x} in after_int ()"]
    assert f"=> 0x{sym['after_int']:x} <after_int>:" in out[4]
    assert "cs             0x3b" in out[5]


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_registers_at_the_width_of_the_mode(tmp_path, capsys, accel):
    pm = os.path.join(GUESTS, "pm_boot.S")
    out = transcript(tmp_path, capsys, accel, pm, ["b pm32", "c", "info registers", "quit"])
    regs = out[2]
    assert re.search(r"^eip\s+0x7c[0-9a-f]{2}\s", regs, re.M) and "rip" not in regs
    assert re.search(r"^esp\s+0x", regs, re.M) and re.search(r"^cs\s+0x8\s+8$", regs, re.M)
    assert re.search(r"^eflags\s+0x[0-9a-f]+\s+\[ [A-Z ]*\]$", regs, re.M)
    lm = os.path.join(GUESTS, "long_boot.S")
    out = transcript(tmp_path, capsys, accel, lm, [
        "b syscall_entry", "c", "si", "info registers", "quit"])
    assert "gs_base 0x0 -> 0x31000, k_gs_base 0x31000 -> 0x0" in out[2]   # SWAPGS
    regs = out[3]
    assert re.search(r"^r15\s+0x", regs, re.M) and re.search(r"^rip\s+0x", regs, re.M)
    assert re.search(r"^cs\s+0x18\s+24$", regs, re.M)
    assert re.search(r"^gs_base\s+0x31000\s", regs, re.M) and re.search(r"^fs_base\s+0x0\s", regs, re.M)


def test_until_stops_at_a_breakpoint_in_the_loop(tmp_path, capsys):
    guest = tmp_path / "f.S"
    guest.write_text(REAL)
    sym = assemble(REAL, "f.S").symbols
    out = transcript(tmp_path, capsys, "interp", guest, [
        "b after_work", "c", f"b *0x{sym['outer']:x}", "until", "info registers cx", "quit"])
    assert f"Breakpoint 2, 0x{sym['outer']:x} <outer>" in out[3]   # the loop's next round
    assert "cx             0x2" in out[4]
