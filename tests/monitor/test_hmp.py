"""HMP, QEMU's human monitor: on ``-monitor stdio``, on a unix socket, and
through QMP's human-monitor-command; and the options' own errors."""

import subprocess
import sys

import pytest

from .helpers import ENDS, LOOP, REPO, RawHmp, finish, start


def stdio_monitor(tmp_path, lines, *opts, code=LOOP, accel="tcg"):
    """``emu run -monitor stdio`` fed ``lines``; (status, stdout, stderr)."""
    proc = start(tmp_path, "-monitor", "stdio", *opts, code=code, accel=accel,
                 stdin=subprocess.PIPE)
    out, err = proc.communicate("".join(line + "\n" for line in lines).encode(), timeout=120)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_stdio_monitor_under_S(tmp_path, accel):
    status, out, err = stdio_monitor(tmp_path, [
        "info status", "info registers", "x /3xb 0x7c00", "xp /2xh 0x7c00", "x /1dw 0x7c00",
        "p $edx", "p/d $sp - 0x100", "p $eip", "info kvm", "info cpus", "bogus", "x /3xq 0",
        "p $nope", "x", "c", "quit"], "-S", accel=accel)
    assert status == 0 and err == ""
    lines = out.split("\r\n")
    assert lines[0].startswith("QEMU ") and lines[0].endswith(" monitor - type 'help' for more information")
    # under -S: the pc board's boot state (README: entered at 0000:7C00, DL=0x80)
    assert "(qemu) VM status: paused (prelaunch)" in lines
    assert "EAX=00000000 EBX=00000000 ECX=00000000 EDX=00000080" in lines
    assert "ESI=00000000 EDI=00000000 EBP=00000000 ESP=00007c00" in lines
    assert any(line.startswith("EIP=00007c00 EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0")
               for line in lines)
    assert "CS =0000 00000000 0000ffff 00009b00" in lines
    assert "(qemu) 0000000000007c00: 0xba 0xf8 0x03" in lines
    assert "(qemu) 0000000000007c00: 0xf8ba 0x3103" in lines
    assert f"(qemu) 0000000000007c00: {int.from_bytes(LOOP[:4], 'little', signed=True):>10}" in lines
    assert "(qemu) 0x80" in lines and "(qemu) 31488" in lines and "(qemu) 0x7c00" in lines
    assert "(qemu) kvm support: disabled" in lines
    assert any(line.startswith("(qemu) * CPU #0: thread_id=") for line in lines)
    assert "(qemu) unknown command: 'bogus'" in lines
    assert "(qemu) invalid char in format: 'q'" in lines
    assert "(qemu) unknown register" in lines
    assert "(qemu) unexpected end of expression" in lines
    assert lines.count('Try "help x" for more information') == 2


def test_stdio_monitor_stops_and_resumes_a_running_guest(tmp_path):
    status, out, err = stdio_monitor(tmp_path, [
        "stop", "info status", "c", "info status", "info exits", "system_reset", "quit"])
    assert status == 0 and err == ""
    assert "(qemu) VM status: paused" in out and "(qemu) VM status: running" in out
    assert "(qemu) exits: " in out
    assert set((tmp_path / "serial.out").read_bytes()) <= {ord(".")}


def test_the_guest_ending_ends_the_run_with_its_status(tmp_path):
    status, out, err = stdio_monitor(tmp_path, ["c"], "-S", code=ENDS)
    assert status == 0 and (tmp_path / "serial.out").read_bytes() == b"!"


def test_hmp_on_a_unix_socket(tmp_path):
    sock = str(tmp_path / "hmp.sock")
    proc = start(tmp_path, "-S", "-monitor", f"unix:{sock},server=on,wait=off", ready=sock)
    h = RawHmp(sock)
    assert "monitor - type 'help'" in h.until_prompt()
    assert h.cmd("info status") == "VM status: paused (prelaunch)\r\n(qemu) "
    assert h.cmd("xp /2xb 0x7c00") == "0000000000007c00: 0xba 0xf8\r\n(qemu) "
    assert "info [subcommand]" in h.cmd("help")
    h.sock.sendall(b"quit\n")
    assert finish(proc)[0] == 0
    h.close()


@pytest.mark.parametrize("args, expect", [
    (["-qmp", "unix:"], "-qmp 'unix:': expected unix:PATH"),
    (["-qmp", "stdio"], "-qmp stdio: QMP on stdio is not supported"),
    (["-qmp", "tcp:localhost:x,server=on"], "'x' is not a port number"),
    (["-qmp", "tcp::99999,server=on"], "port 99999 is out of range"),
    (["-monitor", "unix:/tmp/x,server=off"], "only listens (server=on)"),
    (["-monitor", "unix:/tmp/x,colour=on"], "unknown option 'colour=on'"),
    (["-qmp", "unix:/tmp/x", "-gdb", "tcp:example.org:1234"],
     "-gdb 'tcp:example.org:1234': expected tcp::PORT"),
])
def test_bad_monitor_options_are_one_line_usage_errors(tmp_path, args, expect):
    g = tmp_path / "g.bin"
    g.write_bytes(ENDS)
    r = subprocess.run([sys.executable, "-m", "emu", "run", *args, str(g)], capture_output=True,
                       text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and expect in r.stderr
    assert r.stderr.startswith("emu run: ") and r.stderr.rstrip().endswith("(see 'emu run --help')")


def test_a_socket_that_cannot_be_bound_is_one_line(tmp_path):
    g = tmp_path / "g.bin"
    g.write_bytes(ENDS)
    r = subprocess.run([sys.executable, "-m", "emu", "run", "-qmp",
                        f"unix:{tmp_path}/no/such/dir/q.sock,server=on,wait=off", str(g)],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("emu run: -qmp unix:") and "cannot listen" in r.stderr


def test_endpoints_bind_local_addresses_unless_a_host_is_named():
    from emu.monitor.chardev import Endpoint, parse_endpoint
    assert parse_endpoint("-qmp", "tcp::4444,server=on,wait=off") == Endpoint(
        "tcp", host="127.0.0.1", port=4444, wait=False)
    assert parse_endpoint("-qmp", "tcp:0.0.0.0:4444,server,nowait") == Endpoint(
        "tcp", host="0.0.0.0", port=4444, wait=False)
    assert parse_endpoint("-qmp", "tcp:[::1]:4444,server=on") == Endpoint(
        "tcp", host="::1", port=4444, wait=True)          # QEMU's default for a server: wait
    assert parse_endpoint("-monitor", "unix:/run/m.sock,server=on,wait=off") == Endpoint(
        "unix", path="/run/m.sock", wait=False)
    assert parse_endpoint("-monitor", "stdio") == Endpoint("stdio")
