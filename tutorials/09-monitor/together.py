"""gdb and the monitor on one guest, and a snapshot taken and loaded.

    python tutorials/09-monitor/together.py [-accel ENGINE]

starts ``emu run -S -qmp unix:... -gdb tcp::PORT`` on count.S.  Stock gdb
(batch mode) sets a breakpoint and continues; QMP sees the guest resume,
stop in the ``debug`` run state and kasou's X-KASOU-DEBUG-STOP event, and
the guest resume again when gdb detaches.  Then HMP: ``x /4i``, ``savevm``,
more counting, ``loadvm``, and CX is back where it was saved.
"""

import asyncio
import os
import shutil
import socket

from qemu.qmp import QMPClient

from session import quit, run       # this folder's session.py


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def session(sock, port, tmp):
    q = QMPClient("lab")
    await q.connect(sock)

    async def event():
        ev = await q.events.get()
        data = {k: hex(v) if isinstance(v, int) and k.endswith("address") else v
                for k, v in ev.get("data", {}).items()}
        print("event:", ev["event"], *([data] if data else []))

    async def hmp(line, shown=None):
        out = await q.execute("human-monitor-command", {"command-line": line})
        print(f"(qemu) {shown or line}")
        print(out.replace("\r\n", "\n"), end="")

    # gdb: break where the guest prints, continue, look, detach (its end)
    gdb = await asyncio.create_subprocess_exec(
        shutil.which("gdb"), "-batch", "-nx", "-ex", "set architecture i8086",
        "-ex", f"target remote 127.0.0.1:{port}", "-ex", "break *0x7c0c", "-ex", "continue",
        "-ex", "print/x $cx", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await gdb.communicate()
    for line in out.decode().splitlines():
        if line.startswith(("Breakpoint 1,", "$1")):
            print("gdb:", line)
    for _ in range(4):              # gdb's continue, the breakpoint, gdb detaching
        await event()
    # HMP: the code, a snapshot, more counting, the snapshot again
    await q.execute("stop")
    await event()
    await hmp("x /4i 0x7c00")
    snap = os.path.join(tmp, "count.vm")

    async def cx():
        return await q.execute("human-monitor-command", {"command-line": "p $cx"})
    saved = await cx()
    await hmp(f"savevm {snap}", "savevm count.vm")
    await q.execute("cont")
    await event()
    await asyncio.sleep(0.2)
    await q.execute("stop")
    await event()
    moved = await cx()
    await hmp(f"loadvm {snap}", "loadvm count.vm")
    print("CX had moved on:", moved != saved, "- after loadvm it is as saved:", await cx() == saved)
    await quit(q)


def main():
    port = free_port()
    run(lambda sock, tmp: session(sock, port, tmp), "-gdb", f"tcp::{port}")


if __name__ == "__main__":
    main()
