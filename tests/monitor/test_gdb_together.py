"""The monitor and the gdb stub in one run (``-qmp`` with ``-gdb``, HMP's
``gdbserver``): stopping from one is seen by the other, and either resumes.
Stock gdb (batch mode) where it can say what it saw; a packet-level client
for a Ctrl-C at a chosen moment."""

import errno
import socket

import pytest

from .helpers import (ACCELS, RawGdb, RawQmp, finish, free_port, gdb_batch, needs_gdb,
                      negotiated, start, status)

# LOOP: 7c0d is 'mov al, 0x2e', reached every 4096 turns of the loop


def monitor_and_gdb(tmp_path, *opts, accel="tcg"):
    sock = str(tmp_path / "qmp.sock")
    port = free_port()
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", "-gdb", f"tcp::{port}",
                 *opts, accel=accel, ready=sock)
    q = negotiated(sock)
    return proc, q, port


def quit_run(proc, q):
    assert q.cmd('{"execute": "quit"}') == {"return": {}}
    code, out, err = finish(proc)
    assert code == 0 and err == "", err
    q.close()


@needs_gdb
@pytest.mark.parametrize("accel", ACCELS)
def test_a_gdb_breakpoint_is_a_qmp_stop_and_gdb_detaching_resumes(tmp_path, accel):
    proc, q, port = monitor_and_gdb(tmp_path, "-S", accel=accel)
    assert status(q)["status"] == "prelaunch"
    out, _ = gdb_batch(port, "break *0x7c0d", "continue", "print/x $ecx").communicate(timeout=120)
    assert "Breakpoint 1, 0x00007c0d in ?? ()" in out, out
    assert "$1 = 0x1000" in out, out        # cx & 0xfff == 0 first at 0x1000
    assert q.event()["event"] == "RESUME"       # gdb's continue
    assert q.event()["event"] == "STOP"         # the breakpoint
    ev = q.event()
    assert ev["event"] == "X-KASOU-DEBUG-STOP"
    assert ev["data"] == {"reason": "breakpoint", "address": 0x7c0d}
    assert q.event()["event"] == "RESUME"       # gdb detached at its end
    assert status(q) == {"running": True, "singlestep": False, "status": "running"}
    quit_run(proc, q)


@needs_gdb
def test_qmp_stop_while_gdb_continues_is_sigint_for_gdb(tmp_path):
    proc, q, port = monitor_and_gdb(tmp_path)             # no -S: the guest runs
    g = gdb_batch(port, "continue", "print/x $eip")
    assert q.event()["event"] == "STOP"          # gdb attaching stops the guest
    assert q.event()["event"] == "RESUME"        # gdb's continue
    assert q.cmd('{"execute": "stop"}') == {"return": {}}
    out, _ = g.communicate(timeout=120)
    assert "Program received signal SIGINT, Interrupt." in out, out
    assert q.event()["event"] == "STOP"
    assert q.event()["event"] == "RESUME"        # gdb detached
    quit_run(proc, q)


def test_gdb_ctrl_c_and_breakpoints_against_qmp_cont(tmp_path):
    proc, q, port = monitor_and_gdb(tmp_path, "-S")
    g = RawGdb(port)
    g.send("c")
    assert q.event()["event"] == "RESUME"
    g.sock.sendall(b"\x03")                     # gdb's Ctrl-C
    assert g.packet() == "T02thread:01;"
    assert q.event()["event"] == "STOP"
    assert status(q) == {"running": False, "singlestep": False, "status": "paused"}
    # the monitor resumes what gdb stopped; a breakpoint gdb set stops it again
    assert g.cmd("Z0,7c0d,1") == "OK"
    assert q.cmd('{"execute": "cont"}') == {"return": {}}
    assert q.event()["event"] == "RESUME"
    assert q.event()["event"] == "STOP"
    assert q.event()["data"] == {"reason": "breakpoint", "address": 0x7c0d}
    assert status(q)["status"] == "debug"
    assert g.cmd("?") == "T05thread:01;"
    # and gdb resumes what the monitor stopped: a step is a debug stop too
    assert g.cmd("s") == "T05thread:01;"
    assert q.event()["event"] == "RESUME"
    assert q.event()["event"] == "STOP"
    assert q.event()["data"] == {"reason": "step", "address": 0x7c0f}
    assert g.cmd("z0,7c0d,1") == "OK"
    g.send("D")
    assert g.packet() == "OK"
    assert q.event()["event"] == "RESUME"
    g.close()
    quit_run(proc, q)


def test_a_write_watchpoint_is_a_debug_stop(tmp_path):
    # 7c00 mov word [0x600], cx after each inc: c7 06 00 06 ... is a constant;
    # use: inc cx; mov [0x600], cx; jmp back
    code = bytes.fromhex("31c9" "41" "890e0006" "ebf9")
    sock = str(tmp_path / "qmp.sock")
    port = free_port()
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", "-gdb", f"tcp::{port}",
                 "-S", code=code, ready=sock)
    q = RawQmp(sock)
    q.cmd('{"execute": "qmp_capabilities"}')
    g = RawGdb(port)
    assert g.cmd("Z2,600,2") == "OK"
    assert g.cmd("c") == "T05watch:600;thread:01;"
    assert q.event()["event"] == "RESUME"
    assert q.event()["event"] == "STOP"
    ev = q.event()
    assert ev["event"] == "X-KASOU-DEBUG-STOP"
    assert ev["data"] == {"reason": "watchpoint", "address": 0x7c07,
                          "watch-kind": "write", "watch-address": 0x600}
    g.close()
    quit_run(proc, q)


@needs_gdb
def test_hmp_gdbserver_starts_and_stops_the_stub_at_run_time(tmp_path):
    sock = str(tmp_path / "qmp.sock")
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", ready=sock)
    q = RawQmp(sock)
    q.cmd('{"execute": "qmp_capabilities"}')
    port = free_port()

    def hmp(line):
        return q.cmd('{"execute": "human-monitor-command", "arguments": {"command-line": "%s"}}'
                     % line)["return"]
    assert hmp(f"gdbserver tcp::{port}") == f"Waiting for gdb connection on device 'tcp::{port}'\r\n"
    out, _ = gdb_batch(port, "print/x $edx").communicate(timeout=120)
    assert "$1 = 0x3f8" in out, out
    assert [q.event()["event"] for _ in range(2)] == ["STOP", "RESUME"]     # attach, detach
    assert hmp("gdbserver none") == "Disabled gdbserver\r\n"
    with socket.socket() as s:                  # (gdb would retry a refused connection)
        assert s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    assert hmp("gdbserver tcp:example.org:1") == (
        "gdbserver 'tcp:example.org:1': expected tcp::PORT or none (the stub listens on "
        "127.0.0.1 only)\r\nCould not open gdbserver on device 'tcp:example.org:1'\r\n")
    assert hmp("gdbserver tcp::99999") == (
        "gdbserver 'tcp::99999': port 99999 is out of range\r\n"
        "Could not open gdbserver on device 'tcp::99999'\r\n")
    with socket.socket() as busy:                 # a port in use: QEMU's two lines
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        assert hmp(f"gdbserver tcp::{taken}") == (
            f"cannot listen on 127.0.0.1:{taken}: Address already in use\r\n"
            f"Could not open gdbserver on device 'tcp::{taken}'\r\n")
    port2 = free_port()
    assert hmp(f"gdbserver tcp:127.0.0.1:{port2}") == \
        f"Waiting for gdb connection on device 'tcp:127.0.0.1:{port2}'\r\n"
    out, _ = gdb_batch(port2, "print/x $edx").communicate(timeout=120)
    assert "$1 = 0x3f8" in out, out
    assert status(q)["running"] is True
    quit_run(proc, q)


def test_the_instruction_limit_holds_under_the_gdb_stub(tmp_path):
    proc = start(tmp_path, "-qmp", f"unix:{tmp_path / 'qmp.sock'},server=on,wait=off",
                 "-gdb", f"tcp::{free_port()}", "-icount-limit", "200000")
    code, _, err = finish(proc)
    assert code == 124
    ran = int(err.split("; ")[1].split()[0])
    assert 200000 <= ran <= 200000 + 10000, err     # checked between chunks of 10000
    assert err.startswith("emu run: instruction limit reached (200000 instructions; ")


def test_gdb_kill_ends_the_run_and_reset_under_gdb_goes_on(tmp_path):
    proc, q, port = monitor_and_gdb(tmp_path, "-S")
    g = RawGdb(port)
    assert g.cmd("Z0,7c0d,1") == "OK"
    assert g.cmd("c") == "T05thread:01;"
    # a reset while gdb holds the guest: gdb's next continue starts over
    assert q.cmd('{"execute": "system_reset"}') == {"return": {}}
    assert g.cmd("c") == "T05thread:01;"
    assert g.cmd("p8") == "0d7c0000"          # eip: at the breakpoint again
    assert g.cmd("p1") == "00100000"          # ecx: 0x1000, counted from the reset
    g.send("k")                               # QEMU: gdb's kill ends the emulator
    code, _, err = finish(proc)
    assert code == 0, err
    events = [q.event()["event"] for _ in range(8)]
    assert events == ["RESUME", "STOP", "X-KASOU-DEBUG-STOP", "RESET", "RESUME", "STOP",
                      "X-KASOU-DEBUG-STOP", "SHUTDOWN"], events
    q.close()
