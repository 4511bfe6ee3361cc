"""`emu debug` driven by command scripts on every engine, asserting on what it prints.

The guest prints "Hi" through the UART, stores a word, and exits through
isa-debug-exit; the scripts step over each kind of instruction (a register
move, an OUT, a store), set breakpoints on labels, examine memory, and step
backwards over an OUT, which must take the guest's output back.
"""

import os
import re

import pytest

from emu.cli import main
from emu.loader import assemble

GUEST = """
start:
    mov dx, 0x3f8
    mov al, 0x48
    out dx, al
    mov al, 0x69
    out dx, al
    mov word ptr [0x500], 0x1234
call_sub:
    call sub
back:
    mov al, 2
    out 0xf4, al
    hlt
sub:
    push bp
    mov bp, sp
    mov bx, 7
    pop bp
    ret
msg: .byte 0x41, 0x42, 0x43, 0
"""

SYMS = assemble(GUEST, "g.S").symbols
SUB, CALL_SUB, BACK = SYMS["sub"], SYMS["call_sub"], SYMS["back"]
SUB_LINE = GUEST.splitlines().index("sub:") + 2    # the line of "push bp"

ENGINES = ["interp", "tcg", "unicorn",
           pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                        reason="/dev/kvm is absent on this host"))]


def debug(tmp_path, capsys, accel, commands, guest=GUEST, name="g.S"):
    """What ``emu debug -x`` prints for ``commands`` on ``guest`` (source
    text, or the path of a guest file)."""
    if isinstance(guest, os.PathLike):
        path = guest
    else:
        path = tmp_path / name
        path.write_text(guest)
    script = tmp_path / "cmds.gdb"
    script.write_text("\n".join(commands) + "\n")
    rc = main(["debug", "-accel", accel, "-x", str(script), str(path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    return out


def section(out, command):
    """What the debugger printed for the first `command` in the transcript."""
    marker = f"(emu) {command}\n"
    assert marker in out, out
    rest = out.split(marker, 1)[1]
    return rest.split("(emu) ", 1)[0]


@pytest.mark.parametrize("accel", ENGINES)
def test_steps_show_insn_registers_io_and_output(tmp_path, capsys, accel):
    out = debug(tmp_path, capsys, accel, ["stepi", "si 2", "info registers", "quit"])
    first = section(out, "stepi")
    assert "executed 0x7c00 <start>: mov dx, 0x3f8" in first
    assert "regs: dx 0x80 -> 0x3f8, ip 0x7c00 -> 0x7c03" in first
    assert "=> 0x7c03 <start+3>: mov al, 0x48" in first
    assert "(g.S:4: mov al, 0x48)" in first
    two = section(out, "si 2")
    assert "executed 0x7c05 <start+5>: out dx, al (2 instructions)" in two
    assert "exit: IO out port 0x3f8 size 1 data 0x48" in two
    assert 'guest output: "H"' in two
    regs = section(out, "info registers")
    assert "ax             0x48" in regs
    assert "dx             0x3f8" in regs
    assert "eflags         0x2" in regs and "[ ]" in regs


@pytest.mark.parametrize("accel", ENGINES)
def test_break_continue_memory_and_reverse(tmp_path, capsys, accel):
    out = debug(tmp_path, capsys, accel, [
        "b sub", "c", "x/2xb 0x500", "x/s msg", "x/2i $pc", "bt",
        "rsi 3", "info serial", "x/2xh 0x500", "si 3", "info serial",
        "info breakpoints", "c", "info exits", "si", "rc", "quit"])
    assert f"Breakpoint 1 at 0x{SUB:x} <sub>: file g.S, line {SUB_LINE}." in out
    hit = section(out, "c")
    assert f"Breakpoint 1, 0x{SUB:x} <sub>" in hit
    assert 'guest output: "Hi"' in hit
    assert "0x500:\t0x34\t0x12" in section(out, "x/2xb 0x500")
    assert '"ABC"' in section(out, "x/s msg")
    assert f"=> 0x{SUB:x} <sub>:\tpush bp" in section(out, "x/2i $pc")
    # three back: before the call, before the store, and before the second OUT
    back = section(out, "rsi 3")
    assert "reversed 3 instructions" in back
    assert "mem 0x500: 34 12 -> 00 00" in back
    assert "guest output rewound to 1 byte\n" in back
    assert "=> 0x7c08 <start+8>: out dx, al" in back
    assert "exit:" not in back             # re-execution is not news
    assert 'guest output (1 byte): "H"' in section(out, "info serial")
    assert "0x500:\t0x0000" in section(out, "x/2xh 0x500")
    # forward again: the same output comes back, exactly once
    again = section(out, "si 3")
    assert "exit: IO out port 0x3f8 size 1 data 0x69" in again and 'guest output: "i"' in again
    assert f"=> 0x{SUB:x} <sub>: push bp" in again
    assert 'guest output (2 bytes): "Hi"' in out.split("(emu) si 3\n", 1)[1]
    assert "breakpoint already hit 1 time" in section(out, "info breakpoints")
    # the process's status, and what the guest did: wrote 2 to isa-debug-exit
    assert "[Inferior 1 (guest) exited with code 05] (isa-debug-exit: guest wrote 0x2 (size 1); " \
           "exit status 5)" in out
    exits = section(out, "info exits")
    assert "IO out 0x3f8             2" in exits and "IO out 0xf4              1" in exits
    assert "the guest is not running" in section(out, "si")
    assert f"Breakpoint 1, 0x{SUB:x} <sub>" in section(out, "rc")


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_nexti_steps_over_call_and_set_changes_state(tmp_path, capsys, accel):
    out = debug(tmp_path, capsys, accel, [
        "tbreak call_sub", "c", "ni", "set $ax = 0x1234", "p $ax",
        "set *(short *)0x600 = 0xbeef", "x/2xb 0x600", "info breakpoints", "quit"])
    assert f"Temporary breakpoint 1, 0x{CALL_SUB:x} <call_sub>" in out
    ni = section(out, "ni")
    assert f"executed 0x{CALL_SUB:x} <call_sub>: call 0x{SUB:x}" in ni
    assert "bx 0x0 -> 0x7" in ni
    assert f"=> 0x{BACK:x} <back>: mov al, 0x2" in ni
    assert "$1 = 4660 (0x1234)" in out
    assert "0x600:\t0xef\t0xbe" in out
    assert "No breakpoints or watchpoints." in section(out, "info breakpoints")


def test_bad_input_explains_and_goes_on(tmp_path, capsys):
    out = debug(tmp_path, capsys, "interp", [
        "frobnicate", "b nosuch", "x/8xb 0xfffffff0", "x/8qq 0", "info nonsense", "si 0",
        "set $zz = 1", "delete 9", "list", "disassemble", "display/i $pc", "si", "help stepi", "quit"])
    assert 'Undefined command: "frobnicate".  Try "help".' in out
    assert 'No symbol "nosuch" in current context (labels: back, call_sub, msg, start, sub).' in out
    assert "cannot access memory at 0xfffffff0" in out
    assert "bad format '/8qq'" in out
    assert 'Undefined info command: "nonsense"' in out
    assert "the count must be positive" in out
    assert "unknown register $zz" in out
    assert "no breakpoint number 9" in out
    listing = section(out, "list")
    assert "=>3         mov dx, 0x3f8" in listing and "  2     start:" in listing
    dis = section(out, "disassemble")
    assert "Dump of assembler code for start:" in dis and "=> 0x7c00 <start>:\tmov dx, 0x3f8" in dis
    assert "1: x/i $pc" in section(out, "si")
    assert "execute exactly N instructions" in section(out, "help stepi")


def test_watch_stops_after_the_write(tmp_path, capsys):
    out = debug(tmp_path, capsys, "interp", ["watch *(short *)0x500", "c", "quit"])
    c = section(out, "c")
    assert "Hardware watchpoint 1: 0x500" in c
    assert "Old value = 00 00" in c and "New value = 34 12" in c
    assert f"=> 0x{CALL_SUB:x} <call_sub>: call 0x{SUB:x}" in c


WATCH_GUEST = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86",
                                "watch.S")).read()


def transcript(tmp_path, capsys, accel, guest, commands):
    """[(command, what it printed)] in order (a command may appear twice)."""
    out = debug(tmp_path, capsys, accel, commands, guest, "w.S")
    parts = out.split("(emu) ")[1:]
    steps = [tuple(p.split("\n", 1)) for p in parts]
    assert [c for c, _ in steps] == commands, out
    return steps


@pytest.mark.parametrize("accel", ENGINES)
def test_reverse_continue_stops_at_watchpoints(tmp_path, capsys, accel):
    sym = assemble(WATCH_GUEST, "w.S").symbols
    store1, store2, load = sym["store1"], sym["store2"], sym["load"]
    steps = transcript(tmp_path, capsys, accel, WATCH_GUEST, [
        "b back", "c", "watch *(short *)0x500",
        "rc", "rc", "rc", "c", "x/2xb 0x500",
        "delete", "b back", "c", "rwatch *(short *)0x500", "rc", "rc",
        "delete", "b back", "c", "awatch *(short *)0x500", "rc", "rc", "rc", "quit"])
    out = [text for _, text in steps]
    # going back from 'back': the write in sub, then the first write
    assert "Hardware watchpoint 2: 0x500" in out[3]
    assert "Old value = 78 56\nNew value = 34 12" in out[3]
    assert f"=> 0x{store2:x} <store2>: mov word ptr ds:[0x500], 0x5678" in out[3]
    assert "Old value = 34 12\nNew value = 00 00" in out[4]
    assert f"=> 0x{store1:x} <store1>:" in out[4]
    assert "No more reverse-execution history." in out[5]
    assert "guest output rewound to 0 bytes" in out[5]
    assert "=> 0x7c00 <start>:" in out[5]
    # and forward again: the same first write, seen after it ran
    assert "Old value = 00 00\nNew value = 34 12" in out[6]
    assert "0x500:\t0x34\t0x12" in out[7]
    # rwatch: only the load reads (the stores only write)
    assert "Hardware read watchpoint 4: 0x500" in out[12]
    assert f"=> 0x{load:x} <load>: mov ax, word ptr ds:[0x500]" in out[12]
    assert "No more reverse-execution history." in out[13]
    # awatch: the load, the store in sub, the first store
    assert f"=> 0x{load:x} <load>:" in out[18]
    assert "Hardware access (read/write) watchpoint 6: 0x500" in out[19]
    assert f"=> 0x{store2:x} <store2>:" in out[19]
    assert f"=> 0x{store1:x} <store1>:" in out[20]


BAD = [
    ("b nosuch", 'No symbol "nosuch" in current context'),
    ("b 0xfffffff0", "cannot set a breakpoint at 0xfffffff0: not in RAM"),
    ("tbreak *0x20000000", "cannot set a breakpoint at 0x20000000: not in RAM"),
    ("x/8xb", "Argument required (starting display address)."),
    ("x/8xb 0x1fffffff", "cannot access memory at 0x1fffffff"),
    ("x/3i 0xfffffff", "cannot access memory at 0xfffffff"),
    ("x/8xb $nosuch", "unknown register $nosuch"),
    ("info registers nosuchreg", "unknown register $nosuchreg"),
    ("p 1 +", "A syntax error in expression, near `'."),
    ("p (1", "A syntax error in expression, near `'."),
    ("p 1 2", "A syntax error in expression, near `2'."),
    ("p *(float *)0x500", "unknown type 'float'"),
    ("p 1/0", "Division by zero"),
    ("x/2xb &5", "Attempt to take address of value not located in memory."),
    ("watch *(float*)0x500", "unknown type 'float'"),
    ("rwatch *0xffffffff", "cannot access memory at 0xffffffff"),
    ("delete 99", "no breakpoint number 99"),
    ("rsi 0", "the count must be positive, not 0"),
    ("si -1", "the count must be positive, not -1"),
    ("set history-size -1", "the count must be positive, not -1"),
    ("set step-irqs maybe", "set step-irqs takes on or off"),
    ("set nonsense", "expected 'set $reg = value'"),
    ("set *0x1fffffff = 1", "cannot access memory at 0x1fffffff"),
    ("list 99999", "Line number 99999 out of range"),
    ("help nosuch", 'Undefined command: "nosuch".  Try "help".'),
    ("disassemble nosuch", 'No symbol "nosuch"'),
    ("display/i nosuch", 'No symbol "nosuch"'),
    ("undisplay 7", "no display number 7"),
    ("until 0x20000000", "cannot run to 0x20000000: not in RAM"),
    ("advance", "Argument required (a location"),
    ("finish", '"finish" not meaningful in the outermost frame.'),
    ("frobnicate", 'Undefined command: "frobnicate".  Try "help".'),
    ("re", 'Ambiguous command "re": restart, reverse-continue, reverse-stepi.'),
    ("info", '"info" must be followed by the name of an info command'),
    ("info nonsense", 'Undefined info command: "nonsense"'),
    ("set $eip = zz", 'No symbol "zz"'),
    ("watch 0x500,0", "the length of a watchpoint is a number from 1 to 8 bytes, not '0'"),
    ("awatch 0x500,100", "the length of a watchpoint is a number from 1 to 8 bytes, not '100'"),
    ("rwatch msg,two", "the length of a watchpoint is a number from 1 to 8 bytes, not 'two'"),
    ("watch nosuch,2", 'No symbol "nosuch"'),
    ("watch *(short *)0x500,4", "give the size by a type or by ,LEN, not both"),
    ("display/4x $ax", 'Item count other than 1 is meaningless in "display" command without a unit size'),
    ("display/q $ax", "bad format '/q'"),
    ("p/i $ax", 'Format letter "i" is meaningless in "print" command'),
    ("info tb", "info tb: the interp engine does not translate blocks"),
]


def test_bad_input_is_one_line_and_the_session_goes_on(tmp_path, capsys):
    """Every bad command gets one line naming what was wrong; the state is
    untouched (the first step afterwards is still the first instruction)."""
    steps = transcript(tmp_path, capsys, "interp", GUEST, [c for c, _ in BAD] + ["si", "quit"])
    for (command, expected), (_, text) in zip(BAD, steps):
        lines = text.splitlines()
        assert len(lines) == 1, (command, text)
        assert lines[0].startswith(expected), (command, text)
        assert "Traceback" not in text and "internal error" not in text
    assert "executed 0x7c00 <start>: mov dx, 0x3f8" in steps[-2][1]


def tb_sections(text):
    """{section name: its text} of what 'info tb' or 'emu translate' printed."""
    parts = re.split(r"^---- (in_asm|op|op_opt|out_asm) ----\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_info_tb_shows_the_translated_block_on_tcg(tmp_path, capsys):
    """info tb: the block a run translates from PC (or ADDR), in the four
    sections of 'emu translate --at', and the session goes on."""
    out = debug(tmp_path, capsys, "tcg", [
        "info tb", "b start+3", "i tb", "si", "info t sub", "info tb 0x1fffffff", "si", "quit"])
    first = section(out, "info tb")
    # port I/O does not end a block (served from it, or left before): up to the CALL
    assert first.startswith("translated block at 0x7c00 <start>: 7 instructions, as a run (continue) "
                            "translates it; stepi and nexti run one-instruction blocks\n"), first
    view = tb_sections(first)
    assert list(view) == ["in_asm", "op", "op_opt", "out_asm"]
    assert view["in_asm"].splitlines()[:3] == ["0x00007c00:  mov dx, 0x3f8", "0x00007c03:  mov al, 0x48",
                                               "0x00007c05:  out dx, al"]
    assert view["in_asm"].splitlines()[-1] == "0x00007c0f:  call 0x7c17"
    # the IR before optimisation (not empty), and after
    out_call = "call_bail port_out_real($0x3f8, $1, $0x48)"     # real mode: no permission check
    assert "ip 0x7c00" in view["op"] and out_call in view["op"]
    assert "ip 0x7c05" in view["op_opt"] and out_call in view["op_opt"]
    assert view["out_asm"].startswith("def tb_7c00(")
    # a breakpoint inside the block: a continue ends the block before it
    assert "(a continue ends it before breakpoint 1 at 0x7c03 <start+3>)" in section(out, "i tb")
    # the same sections as 'emu translate GUEST --at sub' (its op section aside)
    sub = section(out, "info t sub")
    assert sub.startswith(f"translated block at 0x{SUB:x} <sub>: 5 instructions")
    assert main(["translate", str(tmp_path / "g.S"), "--at", "sub"]) == 0
    ours, theirs = tb_sections(sub), tb_sections(capsys.readouterr().out)
    for k in ("in_asm", "op_opt", "out_asm"):
        assert ours[k].strip() and ours[k].strip() == theirs[k].strip(), k
    assert section(out, "info tb 0x1fffffff").startswith("cannot access memory at 0x1fffffff")
    steps = out.split("(emu) si\n")
    assert "executed 0x7c00 <start>: mov dx, 0x3f8" in steps[1]
    assert "executed 0x7c03 <start+3>: mov al, 0x48" in steps[2]


def test_info_tb_leaves_the_engine_as_it_was(tmp_path):
    """Looking at a block translates it apart: the engine's block cache (which
    a continue with breakpoints armed would use) is untouched."""
    import io
    from emu.debug.repl import Repl
    from emu.debug.session import Session
    from emu.machine import Machine
    image = assemble(GUEST, "g.S")
    m = Machine(accel="tcg")
    m.load_image(image.data, image.name)
    out = io.StringIO()
    repl = Repl(Session(m, image), stdin=io.StringIO(""), stdout=out)
    repl.onecmd(repl.precmd("si"))
    cache = dict(m.accel.tb_cache)
    repl.onecmd(repl.precmd("info tb"))
    assert "---- out_asm ----\ndef tb_7c03(" in out.getvalue()
    assert m.accel.tb_cache == cache


@pytest.mark.parametrize("accel", [a for a in ENGINES if a != "tcg"])
def test_info_tb_explains_other_engines(tmp_path, capsys, accel):
    steps = transcript(tmp_path, capsys, accel, GUEST, ["info tb", "i t", "tb sub", "si", "quit"])
    for _, text in steps[:2]:
        assert text.startswith(f"info tb: the {accel} engine "), text
        assert text.rstrip().endswith("(use -accel tcg)") and len(text.splitlines()) == 1, text
    assert steps[2][1].startswith(f"Temporary breakpoint 1 at 0x{SUB:x} <sub>")   # tb is still tbreak
    assert "executed 0x7c00 <start>: mov dx, 0x3f8" in steps[3][1]


def test_info_tb_in_help():
    import io
    from emu.debug.repl import Repl
    out = io.StringIO()
    Repl(None, stdin=io.StringIO(""), stdout=out).onecmd("help info")
    assert "tb [ADDR]" in out.getvalue()


def test_display_prints_or_examines_as_gdb(tmp_path, capsys):
    steps = transcript(tmp_path, capsys, "interp", GUEST, [
        "si 2", "display $ax", "display/x $ax", "display/i $pc", "display/4xb 0x500",
        "p/x $ax", "info display", "si", "si 3", "undisplay 2", "si", "quit"])
    out = dict(steps)
    assert out["display $ax"] == "1: $ax = 72 (0x48)\n"             # as print shows it
    assert out["display/x $ax"] == "2: /x $ax = 0x48\n"              # print/x, not x/x
    assert out["display/i $pc"] == "3: x/i $pc\n=> 0x7c05 <start+5>:\tout dx, al\n"
    assert out["display/4xb 0x500"] == "4: x/4xb 0x500\n0x500:\t0x00\t0x00\t0x00\t0x00\n"
    assert out["p/x $ax"] == "$1 = 0x48\n"
    assert out["info display"].splitlines()[2:] == [
        "1:   y  $ax", "2:   y  /x $ax", "3:   y  /i $pc", "4:   y  /4xb 0x500"]
    # after each step, all of them again, with the new values
    shown = ("1: $ax = 72 (0x48)\n2: /x $ax = 0x48\n3: x/i $pc\n=> 0x7c06 <start+6>:\tmov al, 0x69\n"
             "4: x/4xb 0x500\n0x500:\t0x00\t0x00\t0x00\t0x00\n")
    assert steps[7][1].endswith("=> 0x7c06 <start+6>: mov al, 0x69    (w.S:6: mov al, 0x69)\n" + shown)
    shown = ("1: $ax = 105 (0x69)\n2: /x $ax = 0x69\n3: x/i $pc\n"
             f"=> 0x{CALL_SUB:x} <call_sub>:\tcall 0x{SUB:x}\n4: x/4xb 0x500\n0x500:\t0x34\t0x12\t0x00\t0x00\n")
    assert steps[8][1].endswith(shown)
    assert "2: /x" not in steps[10][1] and "3: x/i $pc" in steps[10][1]


@pytest.mark.parametrize("accel", ENGINES)
def test_watch_addr_len(tmp_path, capsys, accel):
    """watch ADDR,LEN: the LEN bytes at ADDR (a label here); a store next to
    them (buf+1, outside 'watch buf,1') does not stop."""
    guest = ("start:\n    mov al, 0x11\n    mov byte ptr [buf+1], al\n"
             "    mov word ptr [buf+2], 0x2233\n    mov al, 2\n    out 0xf4, al\n    hlt\n"
             "buf: .byte 0, 0, 0, 0\n")
    buf = assemble(guest, "w.S").symbols["buf"]
    steps = transcript(tmp_path, capsys, accel, guest, [
        "watch buf,4", "c", "c", "run", "delete", "watch buf,1", "awatch $ax+buf+2,2", "info breakpoints",
        "c", "c", "quit"])
    assert steps[0][1] == f"Hardware watchpoint 1: 0x{buf:x} (4 bytes)\n"
    one = steps[1][1]
    assert f"Hardware watchpoint 1: 0x{buf:x}\nOld value = 00 00 00 00\nNew value = 00 11 00 00\n" in one
    assert f"=> 0x7c05 <start+5>: mov word ptr ds:[0x{buf + 2:x}], 0x2233" in one
    assert "Old value = 00 11 00 00\nNew value = 00 11 33 22\n" in steps[2][1]
    assert steps[5][1] == f"Hardware watchpoint 2: 0x{buf:x} (1 byte)\n"
    assert steps[6][1] == f"Hardware access (read/write) watchpoint 3: 0x{buf + 2:x} (2 bytes)\n"
    info = steps[7][1]
    assert f"*0x{buf:x} (1 byte)" in info and f"*0x{buf + 2:x} (2 bytes)" in info
    assert f"Hardware access (read/write) watchpoint 3: 0x{buf + 2:x}\n=> 0x7c05 <start+5>" in steps[8][1]
    assert "[Inferior 1 (guest) exited with code 05]" in steps[9][1]      # buf+1 is not watched


def test_watch_old_forms_still_work(tmp_path, capsys):
    steps = transcript(tmp_path, capsys, "interp", WATCH_GUEST, [
        "watch *0x500", "rwatch *(short *)0x500", "awatch {char}0x501", "watch 0x500", "quit"])
    assert [t for _, t in steps[:4]] == [
        "Hardware watchpoint 1: 0x500 (2 bytes)\n", "Hardware read watchpoint 2: 0x500 (2 bytes)\n",
        "Hardware access (read/write) watchpoint 3: 0x501 (1 byte)\n",
        "Hardware watchpoint 4: 0x500 (2 bytes)\n"]


def test_print_numbers_its_values_and_shows_negatives_in_twos_complement(tmp_path, capsys):
    """gdb's value history ($1, $2, ...); a negative value's hex is its two's
    complement at the mode's width (16 bits in real mode), never "0x-5"."""
    out = debug(tmp_path, capsys, "interp", ["p 3-8", "p/x -1", "p 0x10", "quit"])
    assert "$1 = -5 (0xfffb)" in out
    assert "$2 = 0xffff" in out
    assert "$3 = 16 (0x10)" in out
    assert "0x-" not in out


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_a_step_after_going_back_reports_only_its_own_writes(tmp_path, capsys, accel):
    """After a reverse step the re-executed stretch is history: the next
    forward step reports the bytes it wrote, not those written between the
    checkpoint the re-execution started from and the present."""
    out = debug(tmp_path, capsys, accel, ["si 10", "rsi 4", "si 1", "x/2xb 0x500", "quit"])
    back = section(out, "rsi 4")
    assert "mem 0x500" not in back                       # written at step 6, still there at 6
    step = section(out, "si 1")
    assert f"executed 0x{CALL_SUB:x} <call_sub>: call 0x{SUB:x}" in step
    assert re.search(rf"mem 0x[0-9a-f]+: 00 00 -> {BACK & 0xFF:02x} {BACK >> 8:02x}", step), step
    assert "mem 0x500" not in step                       # not this step's write
    assert "0x500:\t0x34\t0x12" in out


def test_help_wraps_between_words(tmp_path, capsys):
    """'help' and 'help CMD' wrap at 79 columns, never inside a word: every
    word shown is a whole word of the commands' own help text."""
    from emu.debug.repl import COMMANDS, Repl
    out = debug(tmp_path, capsys, "interp", ["help", "help watch", "help info", "quit"])
    text = out.split("(emu) help\n", 1)[1].split("(emu) quit", 1)[0]
    docs = " ".join(getattr(Repl, "do_" + c.replace("-", "_")).__doc__ for c in COMMANDS)
    known = set(docs.split()) | set(docs.replace(": ", " ").split()) | set(re.findall(r"[\w-]+", docs))
    for line in text.splitlines():
        if line.startswith(("(emu) ", "Commands (gdb's names")):
            continue
        assert len(line) <= 79, line
        for word in line.split():
            if "=" in word or word == "Aliases:":       # the alias list: name=command
                continue
            assert word in known or word.rstrip(".,") in known, (word, line)


def test_disassemble_and_x_name_labels_only_inside_the_image(tmp_path, capsys):
    """An address past the image's last label is not '<msg+245>', and past
    RAM there is nothing to disassemble (one line)."""
    end = SYMS["msg"] + 4
    out = debug(tmp_path, capsys, "interp", [f"disassemble 0x{end + 0x100:x}", "disassemble 0x2000000",
                                             f"x/2i 0x{end + 0x40:x}", "x/2xb msg+1", "quit"])
    far = section(out, f"disassemble 0x{end + 0x100:x}")
    assert far.startswith("Dump of assembler code:\n")
    assert "<" not in far and f"   0x{end + 0x100:04x}:\t" in far
    assert section(out, "disassemble 0x2000000").strip() == \
        "cannot access memory at 0x2000000 (RAM is 0x0-0xffffff)"
    assert "<" not in section(out, f"x/2i 0x{end + 0x40:x}")
    assert section(out, "x/2xb msg+1").startswith(f"0x{SYMS['msg'] + 1:x} <msg+1>:\t0x42\t0x43")


def test_casts_dereference_and_assignment(tmp_path, capsys):
    """The fixed-width types and their signedness, {TYPE} ADDR, set and
    watch through a cast (the bytes: msg is 41 42 43 00)."""
    out = debug(tmp_path, capsys, "interp", [
        "p *(uint16_t *)&msg", "p *(int8_t*)(msg + 2) - 0x44", "p/x *(uint32_t*)msg",
        "p {unsigned char} (msg + 1)", "p (int16_t)0xffff", "p $dx * 2 + 1",
        "set *(int8_t *)&msg = -1", "x/4xb msg", "set {short}(msg+2) = 0x1234", "x/4xb msg",
        "watch *(uint8_t *)&msg", "p *(long long *)msg", "quit"])
    assert section(out, "p *(uint16_t *)&msg").strip() == f"$1 = {0x4241} (0x4241)"
    assert section(out, "p *(int8_t*)(msg + 2) - 0x44").strip() == "$2 = -1 (0xffff)"
    assert section(out, "p/x *(uint32_t*)msg").strip() == "$3 = 0x434241"
    assert section(out, "p {unsigned char} (msg + 1)").strip() == "$4 = 66 (0x42)"
    assert section(out, "p (int16_t)0xffff").strip() == "$5 = -1 (0xffff)"
    assert section(out, "p $dx * 2 + 1").strip() == f"$6 = {0x80 * 2 + 1} (0x101)"
    assert section(out, "set *(int8_t *)&msg = -1").strip() == f"*0x{SYMS['msg']:x} = 0xff (1 byte)"
    assert out.split("(emu) x/4xb msg\n")[1].startswith(f"0x{SYMS['msg']:x} <msg>:\t0xff\t0x42\t0x43\t0x00")
    assert out.split("(emu) x/4xb msg\n")[2].startswith(f"0x{SYMS['msg']:x} <msg>:\t0xff\t0x42\t0x34\t0x12")
    assert section(out, "watch *(uint8_t *)&msg").strip() == \
        f"Hardware watchpoint 1: 0x{SYMS['msg']:x} (1 byte)"
    assert section(out, "p *(long long *)msg").strip() == f"$7 = {0x123442ff} (0x123442ff)"


LOOP = """
start:
    mov dx, 0x3f8
    mov al, 0x48
    out dx, al
again:
    inc bx
    jmp again
"""


def test_ctrl_c_during_continue_stops_the_guest_and_says_where(tmp_path):
    """SIGINT while 'continue' runs a guest that never stops: gdb's
    "Program received signal SIGINT, Interrupt." and the place (PC,
    instruction, source line); back at the prompt, the session goes on
    from exactly there."""
    import signal
    import subprocess
    import sys
    import time
    guest = tmp_path / "loop.S"
    guest.write_text(LOOP)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=repo)
    proc = subprocess.Popen([sys.executable, "-m", "emu", "debug", str(guest)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=repo)
    try:
        proc.stdin.write(b"c\n")
        proc.stdin.flush()
        seen = b""
        while b"(emu) c\n" not in seen:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, seen
            seen += chunk
        time.sleep(0.5)                  # let the guest run (no timing is asserted)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(b"p/x $pc\nsi\nquit\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = (seen + rest).decode()
    assert proc.returncode == 0, err
    after = out.split("(emu) c\n", 1)[1]
    assert "Program received signal SIGINT, Interrupt." in after, out
    where = re.search(r"^=> (0x[0-9a-f]+) <again(?:\+1)?>: (inc bx|jmp 0x[0-9a-f]+)\s+\(loop\.S:\d+: ",
                      after, re.M)
    assert where is not None, out
    pc = int(where.group(1), 16)
    assert f"$1 = 0x{pc:x}" in after
    assert f"executed 0x{pc:x} <again" in after.split("(emu) si\n", 1)[1]
    assert b"Traceback" not in err


def test_a_label_named_like_a_type_is_the_label(tmp_path, capsys):
    guest = "start:\n    hlt\nword: .word 0x1234\n"
    word = assemble(guest, "t.S").symbols["word"]
    out = debug(tmp_path, capsys, "interp", ["p (word) + 1", "p/x *(word *)word", "p (word * 2)", "quit"],
                guest, "t.S")
    assert section(out, "p (word) + 1").strip() == f"$1 = {word + 1} (0x{word + 1:x})"
    assert section(out, "p/x *(word *)word").strip() == "$2 = 0x1234"
    assert section(out, "p (word * 2)").strip() == f"$3 = {word * 2} (0x{word * 2:x})"
