"""Starting ``emu run`` (and ``emu debug``) with a monitor, and the guests the monitor tests run."""

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# 16-bit real mode at 0x7C00, hand-assembled so that the expected bytes do
# not come from kasou's assemblers:
#   7c00 ba f8 03     mov dx, 0x3f8
#   7c03 31 c9        xor cx, cx
#   7c05 41           inc cx              <- again
#   7c06 89 c8        mov ax, cx
#   7c08 25 ff 0f     and ax, 0x0fff
#   7c0b 75 f8        jnz again
#   7c0d b0 2e        mov al, '.'
#   7c0f ee           out dx, al          ('.' every 4096 turns, forever)
#   7c10 eb f3        jmp again
LOOP = bytes.fromhex("baf80331c94189c825ff0f75f8b02eee" "ebf3")
#   7c00 b0 21 ba f8 03 ee   mov al, '!'; mov dx, 0x3f8; out dx, al
#   7c06 fa f4               cli; hlt       (the guest ends: status 0)
ENDS = bytes.fromhex("b021baf803eefaf4")

ACCELS = ["interp", "tcg", "unicorn",
          pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                        reason="/dev/kvm is absent"))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def guest(tmp_path, code=LOOP, name="guest.bin"):
    path = tmp_path / name
    path.write_bytes(code)
    return path


#: every process start() made, for the autouse fixture (conftest.py) that
#: ends those a failed test left running
STARTED = []
# the line readers of started processes, joined before their pipes close
READERS = {}


def start(tmp_path, *opts, code=LOOP, accel="tcg", ready=None, stdin=subprocess.DEVNULL):
    """``emu run`` in the background with ``opts``; the guest's serial goes
    to ``tmp_path/serial.out``.  ``ready``: a unix socket path or TCP port
    to wait for (the monitor is listening)."""
    g = guest(tmp_path, code)
    serial = tmp_path / "serial.out"
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "emu", "run", "-accel", accel,
                             "-serial", f"file:{serial}", *opts, str(g)],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    STARTED.append(proc)
    if ready is not None:
        wait_listening(proc, ready)
    return proc


def wait_listening(proc, where, limit=60.0):
    """Until the monitor accepts connections (or the process died)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read().decode()
        if isinstance(where, int):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", where)) == 0:
                    return
        elif os.path.exists(where):
            return
        time.sleep(0.05)
    raise AssertionError(f"the monitor never listened on {where}")


class RawQmp:
    """A QMP connection at the byte level, for what a well-behaved client never sends."""

    def __init__(self, where):
        if isinstance(where, int):
            self.sock = socket.create_connection(("127.0.0.1", where), timeout=60)
        else:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(60)
            self.sock.connect(str(where))
        self.file = self.sock.makefile("rb")
        self.events = []            # the events read past while waiting for replies
        self.greeting = self.read()

    def event(self):
        """The next event (one already read past, or the next to come)."""
        if self.events:
            return self.events.pop(0)
        msg = self.read()
        assert "event" in msg, msg
        return msg

    def read(self):
        line = self.file.readline()
        assert line.endswith(b"\r\n"), line
        return json.loads(line)

    def reply(self):
        """The next message that is not an event."""
        while True:
            msg = self.read()
            if "event" not in msg:
                return msg
            self.events.append(msg)

    def send(self, raw):
        self.sock.sendall(raw if isinstance(raw, bytes) else raw.encode())

    def cmd(self, raw):
        self.send(raw)
        return self.reply()

    def try_cmd(self, raw):
        """``cmd``, or None once the server has hung up (the run ended)."""
        try:
            self.send(raw)
            while True:
                line = self.file.readline()
                if not line:
                    return None
                msg = json.loads(line)
                if "event" not in msg:
                    return msg
        except (BrokenPipeError, ConnectionResetError):
            return None

    def close(self):
        self.file.close()
        self.sock.close()


class RawHmp:
    """HMP on a unix socket: lines out, text up to the next prompt in."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def until_prompt(self) -> str:
        """What the monitor wrote, up to and with its next ``(qemu)`` prompt."""
        data = b""
        while not data.endswith(b"(qemu) "):
            data += self.file.read1(4096)
        return data.decode()

    def cmd(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\n")
        return self.until_prompt()

    def close(self):
        self.file.close()
        self.sock.close()


def negotiated(sock) -> RawQmp:
    """A QMP connection past capabilities negotiation."""
    q = RawQmp(sock)
    assert q.cmd('{"execute": "qmp_capabilities"}') == {"return": {}}
    return q


def status(q):
    """query-status's return."""
    return q.cmd('{"execute": "query-status"}')["return"]


def finish(proc, limit=60):
    """The process's (status, stdout, stderr) once it ended."""
    out, err = proc.communicate(timeout=limit)
    return proc.returncode, out.decode(), err.decode()


GDB = shutil.which("gdb")
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb is not installed (make deps installs it)")


def gdb_batch(port, *commands):
    """Stock gdb in batch mode against 127.0.0.1:``port``, in the background;
    at its end it detaches (the guest runs on)."""
    args = [GDB, "-batch", "-nx", "-ex", "set architecture i8086", "-ex", "set remotetimeout 30",
            "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        args += ["-ex", c]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    STARTED.append(proc)
    return proc


class RawGdb:
    """The gdb remote protocol at the packet level (acknowledged mode), for
    what batch-mode gdb cannot do: a Ctrl-C at a chosen moment."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def _more(self):
        data = self.sock.recv(4096)
        assert data, "the stub hung up"
        self.buf += data

    def send(self, payload: str):
        data = payload.encode()
        self.sock.sendall(b"$" + data + b"#" + b"%02x" % (sum(data) & 0xFF))
        while not self.buf:
            self._more()
        assert self.buf[:1] == b"+", self.buf
        self.buf = self.buf[1:]

    def packet(self) -> str:
        """The next packet from the stub (acknowledged)."""
        while b"#" not in self.buf or len(self.buf) < self.buf.index(b"#") + 3:
            self._more()
        start = self.buf.index(b"$")
        end = self.buf.index(b"#")
        data, self.buf = self.buf[start + 1:end], self.buf[end + 3:]
        self.sock.sendall(b"+")
        return data.decode()

    def cmd(self, payload: str) -> str:
        self.send(payload)
        return self.packet()

    def close(self):
        self.sock.close()


def start_debug(tmp_path, *opts, code=LOOP, accel="tcg", ready=None):
    """``emu debug`` with ``opts``, its REPL driven through pipes
    (:class:`ReplPipe`); ``ready`` as for :func:`start`."""
    g = guest(tmp_path, code)
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "emu", "debug", "-accel", accel, *opts, str(g)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    STARTED.append(proc)
    if ready is not None:
        wait_listening(proc, ready)
    return proc, ReplPipe(proc)


class ReplPipe:
    """The debugger's REPL through its standard input and output: a line
    reader on a thread, so that a test waits for the text it expects."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = queue.Queue()
        self.seen = []
        reader = threading.Thread(target=self._read, daemon=True)
        READERS[proc.pid] = reader
        reader.start()

    def _read(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put(line.decode())
        self.lines.put(None)

    def send(self, line: str):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, text: str, limit=60.0) -> str:
        """The next output line that contains ``text`` (the lines before it
        are kept in ``seen``)."""
        while True:
            line = self.lines.get(timeout=limit)
            assert line is not None, f"the debugger ended before {text!r}: {''.join(self.seen)}"
            self.seen.append(line)
            if text in line:
                return line
