"""``emu debug`` with ``-qmp``/``-monitor``: the REPL debugger and the
monitor share one run state, as gdb and the monitor do (docs/monitor.md,
"One run state"; emu/monitor/debugger.py).  The REPL is driven through
pipes, the monitor with the packet-level QMP client; the guests loop until
something stops them, so nothing depends on timing."""

import json
import subprocess
import sys

import pytest

from .helpers import ACCELS, ENDS, REPO, RawHmp, finish, negotiated, start_debug, status

# LOOP: 7c0d is 'mov al, 0x2e', reached every 4096 turns of the loop


def debug_with_qmp(tmp_path, *opts, code=None, accel="tcg"):
    sock = str(tmp_path / "qmp.sock")
    kw = {} if code is None else {"code": code}
    proc, repl = start_debug(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", *opts,
                             accel=accel, ready=sock, **kw)
    q = negotiated(sock)
    return proc, repl, q


def hmp(q, line):
    return q.cmd('{"execute": "human-monitor-command", "arguments": {"command-line": %s}}'
                 % json.dumps(line))["return"]


def ended(proc, q=None, reason=None):
    """The run ended cleanly (with SHUTDOWN ``reason`` for ``q``)."""
    if q is not None:
        ev = q.event()
        assert (ev["event"], ev["data"]) == ("SHUTDOWN", {"guest": False, "reason": reason})
    code, out, err = finish(proc)
    assert code == 0 and err == "", err


@pytest.mark.parametrize("accel", ACCELS)
def test_repl_breakpoints_and_steps_are_debug_stops_for_qmp(tmp_path, accel):
    proc, repl, q = debug_with_qmp(tmp_path, accel=accel)
    # the REPL's first prompt: the guest stands stopped, as when gdb attaches
    assert status(q) == {"running": False, "singlestep": False, "status": "paused"}
    repl.send("break *0x7c0d")
    repl.send("continue")
    assert repl.expect("Breakpoint 1, ").startswith("Breakpoint 1, 0x7c0d")
    assert q.event()["event"] == "RESUME"
    assert q.event()["event"] == "STOP"
    ev = q.event()
    assert (ev["event"], ev["data"]) == ("X-KASOU-DEBUG-STOP",
                                         {"reason": "breakpoint", "address": 0x7c0d})
    assert status(q) == {"running": False, "singlestep": False, "status": "debug"}
    repl.send("stepi")
    repl.expect("executed 0x7c0d: mov al, 0x2e")
    assert q.event()["event"] == "RESUME"
    assert q.event()["event"] == "STOP"
    assert q.event()["data"] == {"reason": "step", "address": 0x7c0f}
    # the monitor reads the machine where the REPL stopped it
    regs = hmp(q, "info registers")
    assert "EAX=0000002e" in regs and "EIP=00007c0f" in regs, regs
    repl.send("quit")
    ended(proc, q, "host-ui")


def test_qmp_stop_while_the_repl_continues_is_its_sigint(tmp_path):
    proc, repl, q = debug_with_qmp(tmp_path)
    repl.send("continue")                       # no breakpoint: only the monitor stops it
    assert q.event()["event"] == "RESUME"
    assert status(q)["status"] == "running"
    assert q.cmd('{"execute": "stop"}') == {"return": {}}
    repl.expect("Program received signal SIGINT, Interrupt.")
    assert q.event()["event"] == "STOP"
    assert status(q) == {"running": False, "singlestep": False, "status": "paused"}
    # the REPL and the monitor see the guest where the monitor stopped it
    repl.send("info registers eip")
    eip = int(repl.expect("eip ").split()[1], 16)
    regs = hmp(q, "info registers")
    assert 0x7c03 <= eip <= 0x7c10 and f"EIP={eip:08x}" in regs, regs
    assert q.cmd('{"execute": "quit"}') == {"return": {}}
    ended(proc, q, "host-qmp-quit")


def test_qmp_cont_at_the_prompt_continues_the_repl_to_its_breakpoint(tmp_path):
    proc, repl, q = debug_with_qmp(tmp_path)
    repl.send("break *0x7c0d")
    repl.expect("Breakpoint 1 at 0x7c0d")
    assert q.cmd('{"execute": "cont"}') == {"return": {}}
    repl.expect("Continuing (cont from the monitor).")
    repl.expect("Breakpoint 1, 0x7c0d")
    assert [q.event()["event"] for _ in range(3)] == ["RESUME", "STOP", "X-KASOU-DEBUG-STOP"]
    assert status(q)["status"] == "debug"
    # the REPL takes commands again, and HMP sees the same run state
    repl.send("print/x $cx")
    assert repl.expect("$1 = ").strip().endswith("= 0x1000")   # cx & 0xfff == 0 first at 0x1000
    assert hmp(q, "info status") == "VM status: paused (debug)\r\n"
    repl.send("quit")
    ended(proc)


def test_the_guest_ending_under_the_repl_is_shutdown_and_reverse_steps_bring_it_back(tmp_path):
    proc, repl, q = debug_with_qmp(tmp_path, code=ENDS)
    repl.send("continue")
    repl.expect("[guest stopped")
    assert q.event()["event"] == "RESUME"
    ev = q.event()
    assert (ev["event"], ev["data"]) == ("SHUTDOWN", {"guest": True, "reason": "guest-shutdown"})
    assert status(q)["status"] == "shutdown"
    reply = q.cmd('{"execute": "cont"}')
    assert reply["error"]["desc"] == "Resetting the Virtual Machine is required"
    repl.send("reverse-stepi")
    repl.expect("reversed 1 instruction")
    assert status(q)["status"] == "debug"
    # the monitor cannot start a second debugger on this guest
    reply = hmp(q, "gdbserver tcp::0")
    assert "emu debug's own debugger drives this guest" in reply, reply
    repl.send("quit")
    ended(proc)


def test_debug_refuses_a_monitor_on_its_own_stdin(tmp_path):
    g = tmp_path / "guest.bin"
    g.write_bytes(ENDS)
    r = subprocess.run([sys.executable, "-m", "emu", "debug", "-monitor", "stdio", str(g)],
                       cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode != 0 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "-monitor stdio" in lines[0] and "unix:PATH" in lines[0], r.stderr


def test_hmp_stop_and_c_drive_the_repl(tmp_path):
    sock = str(tmp_path / "hmp.sock")
    proc, repl = start_debug(tmp_path, "-monitor", f"unix:{sock},server=on,wait=off", ready=sock)
    h = RawHmp(sock)
    assert "monitor - type 'help'" in h.until_prompt()
    assert h.cmd("info status") == "VM status: paused\r\n(qemu) "
    assert h.cmd("c") == "(qemu) "
    repl.expect("Continuing (cont from the monitor).")
    assert h.cmd("stop") == "(qemu) "
    repl.expect("Program received signal SIGINT, Interrupt.")
    assert h.cmd("info status") == "VM status: paused\r\n(qemu) "
    repl.send("quit")
    ended(proc)
    h.close()


def test_a_system_reset_from_the_monitor_starts_the_repls_history_afresh(tmp_path):
    proc, repl, q = debug_with_qmp(tmp_path)
    repl.send("stepi 3")
    repl.expect("=> 0x7c06: mov ax, cx")
    assert q.cmd('{"execute": "system_reset"}') == {"return": {}}
    assert [q.event()["event"] for _ in range(4)] == ["RESUME", "STOP", "X-KASOU-DEBUG-STOP",
                                                     "RESET"]
    # going back cannot reach the steps before the reset: that is another past
    repl.send("reverse-stepi")
    repl.expect("No more reverse-execution history.")
    repl.expect("=> 0x7c00: mov dx, 0x3f8")
    repl.send("stepi")
    repl.expect("=> 0x7c03: xor cx, cx")
    assert [q.event()["event"] for _ in range(3)] == ["RESUME", "STOP", "X-KASOU-DEBUG-STOP"]
    repl.send("quit")
    ended(proc, q, "host-ui")
