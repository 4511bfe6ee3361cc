# Lab 9, exercise 2, wrong: disconnects after 'quit' without reading the SHUTDOWN event.
"""Watch a guest's run states from Python (lab 9, exercise 2).

    python watch.py GUEST

starts ``emu run -S -qmp unix:SOCKET,server=on,wait=off GUEST`` (held at
its first instruction), connects with QEMU's client library, qemu.qmp, and
prints what it sees, one line each:

    status: prelaunch                 query-status before anything
    event: RESUME                     after 'cont'
    event: STOP                       after 'stop' (once the guest printed 3 bytes)
    status: paused                    query-status then
    event: SHUTDOWN host-qmp-quit     after 'quit' (the event's data.reason)

and ends with status 0.  (The answer key.)
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time

from qemu.qmp import QMPClient


async def watch(sock, serial):
    q = QMPClient("watch")
    await q.connect(sock)
    print("status:", (await q.execute("query-status"))["status"])
    await q.execute("cont")
    print("event:", (await q.events.get())["event"])
    while not os.path.exists(serial) or os.path.getsize(serial) < 3:
        await asyncio.sleep(0.05)
    await q.execute("stop")
    print("event:", (await q.events.get())["event"])
    print("status:", (await q.execute("query-status"))["status"])
    await q.execute("quit")
    try:
        await q.disconnect()
    except EOFError:            # the server hung up first, as QEMU does after quit
        pass


def main(guest):
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "qmp.sock")
        serial = os.path.join(tmp, "serial.out")
        emu = subprocess.Popen([sys.executable, "-m", "emu", "run", "-accel", "tcg", "-S",
                                "-serial", f"file:{serial}", "-qmp",
                                f"unix:{sock},server=on,wait=off", guest])
        while not os.path.exists(sock):
            if emu.poll() is not None:
                sys.exit(f"emu run ended with status {emu.returncode}")
            time.sleep(0.05)
        asyncio.run(watch(sock, serial))
        return emu.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
