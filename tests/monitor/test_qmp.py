"""QMP as QEMU's own client library (``qemu.qmp``) speaks it, over unix and
TCP sockets, while a guest runs on every engine."""

import asyncio
import os
import socket
import time

import pytest
from qemu.qmp import ExecuteError, QMPClient

from .helpers import ACCELS, ENDS, LOOP, RawQmp, finish, free_port, start

COMMANDS = {"qmp_capabilities", "query-version", "query-status", "query-kvm", "query-commands",
            "query-name", "query-cpus-fast", "query-target", "query-machines", "stop", "cont",
            "system_reset", "system_powerdown", "quit", "memsave", "pmemsave",
            "human-monitor-command", "x-query-exits", "x-query-tb"}


async def event(q, name):
    """The next event, which must be ``name``."""
    ev = await asyncio.wait_for(q.events.get(), 60)
    assert ev["event"] == name, ev
    ts = ev["timestamp"]
    assert isinstance(ts["seconds"], int) and 0 <= ts["microseconds"] < 1_000_000
    assert abs(ts["seconds"] - time.time()) < 3600
    return ev


async def closed(q):
    """Disconnect after 'quit' or the guest's end: the server hangs up
    (as QEMU's), which the client may already have seen."""
    try:
        await q.disconnect()
    except EOFError:
        pass


async def hmp(q, line):
    return await q.execute("human-monitor-command", {"command-line": line})


@pytest.mark.parametrize("accel", ACCELS)
def test_every_command_while_the_guest_runs(tmp_path, accel):
    sock = str(tmp_path / "qmp.sock")
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", accel=accel, ready=sock)
    serial = tmp_path / "serial.out"

    async def session():
        q = QMPClient("test")
        await q.connect(sock)
        v = dict(q.greeting.QMP.version)
        assert all(isinstance(v["qemu"][k], int) for k in ("major", "minor", "micro"))
        assert isinstance(v["package"], str) and isinstance(q.greeting.QMP.capabilities, list)

        assert await q.execute("query-status") == {"running": True, "singlestep": False,
                                                   "status": "running"}
        assert await q.execute("query-version") == v
        assert await q.execute("query-kvm") == {"enabled": accel == "kvm",
                                                "present": os.path.exists("/dev/kvm")}
        assert {c["name"] for c in await q.execute("query-commands")} == COMMANDS
        assert await q.execute("query-name") == {}
        assert await q.execute("query-target") == {"arch": "x86_64"}
        machines = await q.execute("query-machines")
        assert [m["name"] for m in machines if m.get("is-default")] == ["pc"]
        cpus = await q.execute("query-cpus-fast")
        assert len(cpus) == 1 and cpus[0]["cpu-index"] == 0 and cpus[0]["target"] == "x86_64"
        assert cpus[0]["thread-id"] == proc.pid      # the guest runs on the main thread
        assert set(cpus[0]["props"]) == {"core-id", "thread-id", "socket-id"}

        # stop interrupts the running guest; nothing runs until cont
        while not serial.exists() or not serial.stat().st_size:
            await asyncio.sleep(0.05)
        assert await q.execute("stop") == {}
        await event(q, "STOP")
        assert await q.execute("query-status") == {"running": False, "singlestep": False,
                                                   "status": "paused"}
        before = await hmp(q, "info registers")
        size = serial.stat().st_size
        await asyncio.sleep(0.3)
        assert await hmp(q, "info registers") == before
        assert serial.stat().st_size == size
        assert serial.read_bytes() == b"." * size       # the output intact
        assert "\r\nEIP=00007c" in before and "EDX=000003f8" in before

        # memory, virtual and physical
        for cmd in ("memsave", "pmemsave"):
            dump = tmp_path / f"{cmd}.bin"
            assert await q.execute(cmd, {"val": 0x7C00, "size": len(LOOP),
                                         "filename": str(dump)}) == {}
            assert dump.read_bytes() == LOOP
        assert await hmp(q, "xp /3xb 0x7c00") == "0000000000007c00: 0xba 0xf8 0x03\r\n"
        assert await hmp(q, "x /2xh 0x7c03") == "0000000000007c03: 0xc931 0x8941\r\n"
        assert await hmp(q, "p $dx") == "0x3f8\r\n"

        exits = await q.execute("x-query-exits")
        assert exits["by-reason"]["IO"] == exits["by-key"]["IO out 0x3f8"] >= size
        if accel == "tcg":
            tb = await q.execute("x-query-tb")
            assert tb["blocks-cached"] >= 1 and tb["blocks-executed"] >= 1
        else:
            with pytest.raises(ExecuteError) as e:
                await q.execute("x-query-tb")
            assert e.value.error_class == "GenericError"

        assert await q.execute("cont") == {}
        await event(q, "RESUME")
        assert (await q.execute("query-status"))["status"] == "running"
        while serial.stat().st_size == size:          # the guest goes on
            await asyncio.sleep(0.05)

        assert await q.execute("system_reset") == {}
        ev = await event(q, "RESET")
        assert ev["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
        assert await q.execute("system_powerdown") == {}
        await event(q, "POWERDOWN")
        assert await q.execute("quit") == {}
        ev = await event(q, "SHUTDOWN")
        assert ev["data"] == {"guest": False, "reason": "host-qmp-quit"}
        await closed(q)

    asyncio.run(session())
    status, out, err = finish(proc)
    assert status == 0 and err == "", err
    assert set((tmp_path / "serial.out").read_bytes()) == {ord(".")}


def test_tcp_several_clients_and_wait_on(tmp_path):
    """wait=on holds the guest until the first client; then two clients at
    once both hear the events."""
    port = free_port()
    proc = start(tmp_path, "-qmp", f"tcp:127.0.0.1:{port},server=on,wait=on",
                 "-icount-limit", "1000000000", ready=port)

    async def session():
        a, b = QMPClient("a"), QMPClient("b")
        await a.connect(("127.0.0.1", port))
        await b.connect(("127.0.0.1", port))
        assert (await b.execute("query-status"))["running"] is True
        await a.execute("stop")
        await event(a, "STOP")
        await event(b, "STOP")
        await b.execute("cont")
        await event(a, "RESUME")
        await event(b, "RESUME")
        await a.execute("quit")
        await event(b, "SHUTDOWN")
        await closed(a)
        await closed(b)
    asyncio.run(session())
    assert finish(proc)[0] == 0


def test_wait_on_holds_the_guest_until_a_client_comes(tmp_path):
    sock = str(tmp_path / "qmp.sock")
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=on", "-icount-limit", "1000",
                 ready=sock)
    time.sleep(0.5)                 # a guest let go would have ended by now
    assert proc.poll() is None and not (tmp_path / "serial.out").read_bytes()
    c = socket.socket(socket.AF_UNIX)
    c.connect(sock)                 # the guest goes (and ends, maybe before the greeting)
    status, _, err = finish(proc)
    assert status == 124 and "instruction limit reached" in err
    c.close()


@pytest.mark.parametrize("accel", ["tcg", "interp"])
def test_minus_S_is_prelaunch_until_cont(tmp_path, accel):
    sock = str(tmp_path / "qmp.sock")
    proc = start(tmp_path, "-S", "-qmp", f"unix:{sock},server=on,wait=off", code=ENDS,
                 accel=accel, ready=sock)

    async def session():
        q = QMPClient("test")
        await q.connect(sock)
        assert await q.execute("query-status") == {"running": False, "singlestep": False,
                                                   "status": "prelaunch"}
        regs = await hmp(q, "info registers")
        assert "EIP=00007c00" in regs and "EDX=00000080" in regs   # the pc board's boot state
        assert await hmp(q, "info status") == "VM status: paused (prelaunch)\r\n"
        await q.execute("stop")             # no change from prelaunch, as QEMU
        assert (await q.execute("query-status"))["status"] == "prelaunch"
        assert await q.execute("cont") == {}
        await event(q, "RESUME")
        ev = await event(q, "SHUTDOWN")     # cli; hlt: the guest is done
        assert ev["data"] == {"guest": True, "reason": "guest-shutdown"}
        await closed(q)
    asyncio.run(session())
    status, _, err = finish(proc)
    assert status == 0 and err == ""
    assert (tmp_path / "serial.out").read_bytes() == b"!"


@pytest.mark.parametrize("accel, limit", [("interp", 3_000_000), ("tcg", 20_000_000)])
def test_stop_and_cont_resume_exactly(tmp_path, accel, limit):
    """A run stopped and resumed many times ends where an unbroken run ends:
    same output, same place (exact engines, an instruction limit)."""
    plain = tmp_path / "plain"
    plain.mkdir()
    ref = finish(start(plain, "-icount-limit", str(limit), accel=accel))
    sock = str(tmp_path / "qmp.sock")
    proc = start(tmp_path, "-S", "-icount-limit", str(limit), "-qmp",
                 f"unix:{sock},server=on,wait=off", accel=accel, ready=sock)
    c = RawQmp(sock)
    c.cmd('{"execute": "qmp_capabilities"}')
    # cont and stop sent together, so that each stop comes a few thread
    # switches after its cont: tens of thousands of instructions on the
    # interpreter, hundreds of thousands on the translator (~40 MIPS on this
    # loop), far fewer than the limit.  The guest prints fast, so the main
    # thread keeps releasing the interpreter lock for a moment; the client
    # thread still gets it (it did not: the run reached its limit first).
    for _ in range(3):
        c.send('{"execute": "cont"}\r\n{"execute": "stop"}\r\n')
        assert c.reply() == {"return": {}} and c.reply() == {"return": {}}
    assert [c.event()["event"] for _ in range(6)] == ["RESUME", "STOP"] * 3
    assert c.cmd('{"execute": "cont"}') == {"return": {}}
    status, _, err = finish(proc)
    assert status == ref[0] == 124
    assert (tmp_path / "serial.out").read_bytes() == (plain / "serial.out").read_bytes()
    assert err == ref[2]            # the same limit, reached at the same instruction


SPIN = bytes.fromhex("40ebfd")      # 7c00: inc ax; jmp 7c00 -- no VM exit, ever


@pytest.mark.parametrize("accel", ACCELS)
def test_stop_interrupts_a_guest_that_never_exits(tmp_path, accel):
    """No I/O, no HLT: stop must still end the engine's run (KVM is kicked
    out of KVM_RUN, the others stop at a block or slice boundary), and cont
    must let it go on."""
    sock = str(tmp_path / "qmp.sock")
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", code=SPIN, accel=accel,
                 ready=sock)
    c = RawQmp(sock)
    c.cmd('{"execute": "qmp_capabilities"}')
    ax = '{"execute": "human-monitor-command", "arguments": {"command-line": "p $ax"}}'
    first = c.cmd(ax)["return"]
    while c.cmd(ax)["return"] == first:         # it runs
        time.sleep(0.05)
    assert c.cmd('{"execute": "stop"}') == {"return": {}}
    assert c.event()["event"] == "STOP"
    held = c.cmd(ax)["return"]
    time.sleep(0.3)
    assert c.cmd(ax)["return"] == held
    regs = c.cmd('{"execute": "human-monitor-command", '
                 '"arguments": {"command-line": "info registers"}}')["return"]
    assert "EIP=00007c0" in regs                # at one of its two instructions
    assert c.cmd('{"execute": "cont"}') == {"return": {}}
    assert c.event()["event"] == "RESUME"
    while c.cmd(ax)["return"] == held:          # and runs again
        time.sleep(0.05)
    c.send('{"execute": "quit"}')
    assert finish(proc)[0] == 0
    c.close()
