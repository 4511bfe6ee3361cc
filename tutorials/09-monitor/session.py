"""A QMP session with a running guest, as a QEMU user drives one.

    python tutorials/09-monitor/session.py [-accel ENGINE]

starts ``emu run -S -qmp unix:...`` on count.S, then over QMP (with
QEMU's own client library, qemu.qmp): negotiates, reads the run state,
lets the guest go, stops it, looks at it with HMP commands, and quits.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time

from qemu.qmp import QMPClient

HERE = os.path.dirname(os.path.abspath(__file__))


async def session(sock):
    q = QMPClient("lab")
    await q.connect(sock)
    v = q.greeting.QMP.version["qemu"]
    print(f"greeting: QMP version {v['major']}.{v['minor']}.{v['micro']}")
    print("query-status:", (await q.execute("query-status"))["status"])

    async def hmp(line):
        out = await q.execute("human-monitor-command", {"command-line": line})
        print(f"(qemu) {line}")
        print(out.replace("\r\n", "\n"), end="")

    await hmp("x /3xb 0x7c00")
    await q.execute("cont")
    print("event:", (await q.events.get())["event"])
    while (await q.execute("x-query-exits"))["total"] < 3:     # three '.' printed
        await asyncio.sleep(0.05)
    await q.execute("stop")
    print("event:", (await q.events.get())["event"])
    print("query-status:", (await q.execute("query-status"))["status"])
    await hmp("info registers")
    await hmp("p $cx")
    exits = await q.execute("x-query-exits")
    print("x-query-exits: IO", exits["by-reason"]["IO"])
    await quit(q)


async def quit(q):
    """``quit``: the SHUTDOWN event, and the server hangs up."""
    await q.execute("quit")
    ev = await q.events.get()
    print("event:", ev["event"], ev["data"])
    try:
        await q.disconnect()
    except EOFError:            # the server hung up first, as QEMU does after quit
        pass


def run(session, *opts):
    """``emu run -S -qmp unix:... OPTS count.S`` (-accel from the command
    line), ``session(socket path, temporary directory)`` against it, and
    how the run ended."""
    accel = sys.argv[2] if sys.argv[1:2] == ["-accel"] else "tcg"
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "qmp.sock")
        emu = subprocess.Popen([sys.executable, "-m", "emu", "run", "-accel", accel, "-S",
                                "-serial", "none", "-qmp", f"unix:{sock},server=on,wait=off",
                                *opts, os.path.join(HERE, "count.S")], stderr=subprocess.DEVNULL)
        while not os.path.exists(sock):
            if emu.poll() is not None:
                sys.exit(f"emu run ended with status {emu.returncode}")
            time.sleep(0.05)
        asyncio.run(session(sock, tmp))
        print("emu run ended with status", emu.wait())


def main():
    run(lambda sock, tmp: session(sock))


if __name__ == "__main__":
    main()
