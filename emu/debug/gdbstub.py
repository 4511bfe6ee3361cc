"""A gdb remote-protocol stub: ``emu run GUEST -gdb tcp::1234 -S``, as QEMU's.

Protocol (GDB manual, "Remote Protocol"; reference notes §4): packets are
``$data#cc`` with cc the sum of the data bytes mod 256, acknowledged by
``+``/``-`` until gdb asks for no-ack mode (``QStartNoAckMode``); binary
data escapes ``# $ } *`` as ``}`` + (byte ^ 0x20); a raw 0x03 interrupts a
running target; anything unknown gets the empty reply.

Served: qSupported (PacketSize, QStartNoAckMode, qXfer:features:read,
ReverseStep, ReverseContinue, hwbreak), the target description (below),
``?``, ``g``/``G``/``p``/``P``, ``m``/``M``/``X`` at *linear* addresses
(through the guest's page tables when paging is on), ``c``/``s``/
``vCont``, ``Z0``/``Z1`` breakpoints, ``Z2``/``Z3``/``Z4`` watchpoints
(by single-stepping and comparing, see :mod:`emu.debug.session`), ``bc``/
``bs`` reverse execution (``bc`` stops at breakpoints and at watchpoints,
going backwards), ``k``, ``D``, ``qAttached``, ``qC``,
``qfThreadInfo``/``qsThreadInfo``, ``H``, and ``qRcmd`` (``monitor
info exits``, ``monitor info serial``, ``monitor info registers`` -- the
Target's ``dump_registers``, as QEMU's monitor prints them).

**Which architecture gdb is told.**  gdb reads the target description
once per connection and sizes its register cache from it, with no packet
by which a stub could say the CPU changed mode; a ``g`` reply of another
size is "Remote 'g' packet reply is too long".  The stub describes the
mode the CPU is in when gdb asks -- the architecture, register layout and
description are the debug adapter's (``gdb_arch``, ``gdb_registers``,
``gdb_target_xml``; :mod:`emu.isa.debug_adapter`) -- and keeps that layout for the
connection: registers wider than it are truncated, narrower ones
zero-extended.  To see the registers of a mode the guest entered since,
reconnect -- ``disconnect``, then ``target remote`` again: the stub keeps
listening while the guest stays stopped, and the new connection gets the
description of the mode the CPU is in now.  Registers the layout has but
the model does not hold (the adapter's ``gdb_placeholders``) read as zero
and ignore writes.

The stub listens on 127.0.0.1 only and serves one gdb at a time.  When the
guest ends (isa-debug-exit, HLT with interrupts off) gdb hears ``W``;
a crash (triple fault) is reported as ``X`` with SIGSEGV's number.
"""

from __future__ import annotations

import socket

from .session import DebugError, Session

PACKET_SIZE = 0x4000
SIGTRAP, SIGINT, SIGSEGV = 5, 2, 11
def checksum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


def escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            out.append(next(it) ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


class Disconnected(Exception):
    pass


class GdbStub:
    """One Machine served to one gdb at a time over TCP on 127.0.0.1."""

    def __init__(self, machine, image=None, port: int = 1234, session: Session | None = None):
        self.session = session or Session(machine, image)
        self.machine = machine
        self.adapter = self.session.arch     # gdb's layouts and target description
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.conn = None
        self.ack = True
        self.buf = bytearray()
        self.xml = None
        self.arch = None              # gdb's architecture for this connection
        self._layout = None
        self.last_stop = b"S05"
        self.result = None            # exit status once the guest has ended
        self.offered = set()

    # -- transport --------------------------------------------------------------------
    def _recv(self) -> bytes:
        data = self.conn.recv(4096)
        if not data:
            raise Disconnected()
        return data

    def read_packet(self) -> bytes | None:
        """The next packet's payload (None for a bare Ctrl-C)."""
        while True:
            while b"$" not in self.buf:
                if b"\x03" in self.buf:
                    self.buf.clear()
                    return None
                self.buf.clear()
                self.buf += self._recv()
            start = self.buf.index(b"$")
            if b"\x03" in self.buf[:start]:
                del self.buf[:start]
                return None
            while True:
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    break
                self.buf += self._recv()
            data = bytes(self.buf[start + 1:end])
            cc = bytes(self.buf[end + 1:end + 3])
            del self.buf[:end + 3]
            if self.ack:
                if checksum(data) != cc.lower():
                    self.conn.sendall(b"-")
                    continue
                self.conn.sendall(b"+")
            return data

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        pkt = b"$" + data + b"#" + checksum(data)
        while True:
            self.conn.sendall(pkt)
            if not self.ack:
                return
            c = self._recv_ack()
            if c == b"+":
                return

    def _recv_ack(self) -> bytes:
        while True:
            if not self.buf:
                self.buf += self._recv()
            c = bytes(self.buf[:1])
            del self.buf[:1]
            if c in (b"+", b"-"):
                return c

    def _interrupt_pending(self) -> bool:
        """A Ctrl-C (0x03) from gdb while the guest runs."""
        self.conn.setblocking(False)
        try:
            data = self.conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return False
        finally:
            self.conn.setblocking(True)
        if not data:
            raise Disconnected()
        if b"\x03" in data:
            return True
        self.buf += data
        return False

    # -- serving ----------------------------------------------------------------------------
    def serve(self, freeze: bool = True) -> int:
        """Wait for gdb and serve it until it detaches or kills; returns the
        guest's exit status (for ``emu run``)."""
        if not freeze:
            # QEMU without -S: the guest runs; gdb connecting stops it (as
            # its Ctrl-C would).  A guest that ends first ends the run.
            import select
            self.session.interrupt_requested = \
                lambda: bool(select.select([self.listener], [], [], 0)[0])
            st = self.session.cont()
            self.session.interrupt_requested = None
            if st.reason != "interrupted":
                self.stop_reply(st)
                return self.result if self.result is not None else 0
            self.last_stop = f"T{SIGINT:02x}thread:01;".encode()
        while True:
            try:
                self.conn, _ = self.listener.accept()
            except OSError:               # the listener was closed
                break
            if not self.serve_connection():
                break
            # gdb went away without detaching ('disconnect'): the guest
            # stays stopped and the next gdb gets a description of the mode
            # the CPU is in now.  A guest that has ended ends the run.
            if self.result is not None:
                break
        return self.result if self.result is not None else 0

    def serve_connection(self) -> bool:
        """Serve one gdb; False once it detached or killed (the run is
        over), True if it only went away."""
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ack, self.buf, self.offered = True, bytearray(), set()
        self.xml, self.arch = None, None
        self.session.interrupt_requested = self._interrupt_pending
        try:
            while True:
                pkt = self.read_packet()
                if pkt is None:
                    self.send(self.last_stop)
                    continue
                reply = self.handle(pkt)
                if reply is Ellipsis:         # k / D: done
                    return False
                if reply is not None:
                    self.send(reply)
        except (Disconnected, ConnectionError, OSError):
            return True
        finally:
            self.session.interrupt_requested = None
            try:
                self.conn.close()
            except OSError:
                pass

    def close(self) -> None:
        for s in (self.conn, self.listener):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)   # wakes a thread blocked in accept()
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass
        self.session.close()

    # -- packets ------------------------------------------------------------------------------------
    def handle(self, pkt: bytes):
        p = pkt.decode("latin-1")
        try:
            if p.startswith("qSupported"):
                self.offered = set(p.split(":", 1)[-1].split(";"))
                return (f"PacketSize={PACKET_SIZE:x};QStartNoAckMode+;qXfer:features:read+;"
                        "ReverseStep+;ReverseContinue+;hwbreak+;vContSupported+")
            if p == "QStartNoAckMode":
                self.send("OK")
                self.ack = False
                return None
            if p.startswith("qXfer:features:read:"):
                return self.xfer(p)
            if p == "?":
                return self.last_stop
            if p in ("qAttached",) or p.startswith("qAttached:"):
                return "1"
            if p == "qC":
                return "QC01"
            if p == "qfThreadInfo":
                return "m01"
            if p == "qsThreadInfo":
                return "l"
            if p.startswith("H"):
                return "OK"
            if p == "vCont?":
                return "vCont;c;C;s;S"
            if p.startswith("vCont;"):
                return self.vcont(p)
            if p.startswith("vKill"):
                return ""
            if p == "g":
                return self.read_all()
            if p.startswith("G"):
                return self.write_all(p[1:])
            if p.startswith("p"):
                return self.read_reg(int(p[1:], 16))
            if p.startswith("P"):
                n, val = p[1:].split("=")
                return self.write_reg(int(n, 16), val)
            if p.startswith("m"):
                addr, n = (int(x, 16) for x in p[1:].split(","))
                try:
                    return self.session.read_memory(addr, n).hex()
                except DebugError:
                    return "E14"
            if p.startswith("M"):
                head, data = p[1:].split(":", 1)
                return self.write_memory(head, bytes.fromhex(data))
            if p.startswith("X"):
                head, _, _ = pkt[1:].partition(b":")
                return self.write_memory(head.decode(), unescape(pkt[1 + len(head) + 1:]))
            if p.startswith(("Z", "z")):
                return self.point(p)
            if p.startswith("c"):
                return self.resume("c")
            if p.startswith("s"):
                return self.resume("s")
            if p == "bc":
                return self.resume("bc")
            if p == "bs":
                return self.resume("bs")
            if p.startswith("qRcmd,"):
                return self.monitor(bytes.fromhex(p[6:]).decode("latin-1"))
            if p == "k":
                return Ellipsis
            if p.startswith("D"):
                self.send("OK")
                return Ellipsis
        except (ValueError, IndexError):
            return "E01"
        except DebugError:
            return "E01"
        return ""

    def write_memory(self, head: str, data: bytes) -> str:
        """M and X: ``ADDR,LENGTH`` and the bytes; a payload of another
        length than the one declared is an error (E01), not a partial write."""
        addr, n = (int(x, 16) for x in head.split(","))
        if len(data) != n:
            return "E01"
        if n:
            try:
                self.session.write_memory(addr, data)
            except DebugError:
                return "E14"
        return "OK"

    def xfer(self, p: str) -> str:
        annex, span = p[len("qXfer:features:read:"):].split(":")
        if annex != "target.xml":
            return "E00"
        off, length = (int(x, 16) for x in span.split(","))
        if self.xml is None or off == 0:
            self.arch = self.adapter.gdb_arch(self.session.cpu)
            self.xml = self.adapter.gdb_target_xml(self.arch).encode()
        chunk = self.xml[off:off + length]
        return (b"m" if off + length < len(self.xml) else b"l") + escape(chunk)

    # -- registers ------------------------------------------------------------------------------------
    @property
    def layout(self) -> list:
        """The register layout of this connection: chosen from the CPU's mode
        when gdb reads the target description, then kept (see the module
        docstring: gdb reads the description once per connection)."""
        if self.arch is None:
            self.arch = self.adapter.gdb_arch(self.session.cpu)
        if self._layout is None or self._layout[0] != self.arch:
            self._layout = (self.arch, self.adapter.gdb_registers(self.arch))
        return self._layout[1]

    def _reg_value(self, n: int) -> int:
        name, size, _, _ = self.layout[n]
        if name in self.adapter.gdb_placeholders:
            return 0                        # not modelled: reads as zero
        return self.session.get_register(name) & ((1 << (8 * size)) - 1)

    def read_reg(self, n: int) -> str:
        if not 0 <= n < len(self.layout):
            return "E45"
        return self._reg_value(n).to_bytes(self.layout[n][1], "little").hex()

    def read_all(self) -> str:
        return "".join(self.read_reg(n) for n in range(len(self.layout)))

    def write_reg(self, n: int, hexval: str) -> str:
        if not 0 <= n < len(self.layout):
            return "E45"
        name, size, _, _ = self.layout[n]
        if name in self.adapter.gdb_placeholders:
            return "OK"                  # not modelled: writes are ignored
        v = int.from_bytes(bytes.fromhex(hexval)[:size], "little")
        if self._reg_value(n) == v:
            return "OK"
        try:
            self.session.set_register(name, v)
        except DebugError:
            return "E01"
        return "OK"

    def write_all(self, hexdata: str) -> str:
        """G: every register of the layout, in order; a payload of another
        size than ``g``'s reply is an error (E01) and changes nothing."""
        data = bytes.fromhex(hexdata)
        if len(data) != sum(size for _, size, _, _ in self.layout):
            return "E01"
        off = 0
        for n, (_, size, _, _) in enumerate(self.layout):
            r = self.write_reg(n, data[off:off + size].hex())
            if r != "OK":
                return r
            off += size
        return "OK"

    # -- breakpoints and watchpoints -----------------------------------------------------------------
    def point(self, p: str) -> str:
        insert = p[0] == "Z"
        kind, addr, length = p[1:].split(",")[:3]
        addr = int(addr, 16)
        length = int(length.split(";")[0], 16)
        s = self.session
        if kind in ("0", "1"):
            if insert:
                if not s.mapped(addr):
                    return "E22"
                if addr not in s._bp_addrs():
                    s.add_breakpoint(addr)
            else:
                s.remove_breakpoint_at(addr)
            return "OK"
        if kind in ("2", "3", "4"):
            wkind = {"2": "write", "3": "read", "4": "access"}[kind]
            if insert:
                try:
                    s.add_watchpoint(wkind, addr, length)
                except DebugError:
                    return "E22"
            else:
                s.remove_watchpoint_at(wkind, addr, length)
            return "OK"
        return ""

    # -- running -----------------------------------------------------------------------------------------
    def vcont(self, p: str) -> str:
        actions = p[len("vCont;"):].split(";")
        first = actions[0].split(":")[0]
        if first in ("s", "S"):
            return self.resume("s")
        if first in ("c", "C"):
            return self.resume("c")
        return ""

    def resume(self, how: str) -> str:
        s = self.session
        try:
            if how == "s":
                st = s.step(1)
            elif how == "c":
                st = s.cont()
            elif how == "bs":
                st = s.reverse_step(1)
            else:
                st = s.reverse_continue()
        except DebugError:
            # the guest has ended: say so again
            return self.last_stop
        except Exception as e:        # the engine failed: tell gdb in one line, go on serving
            self.console(f"emu: the {self.machine.accel_name} engine failed: {type(e).__name__}: {e}\n")
            return "E01"
        self.last_stop = self.stop_reply(st).encode()
        return self.last_stop

    def console(self, text: str) -> None:
        """Text for gdb's console (an ``O`` packet, allowed while it waits)."""
        self.send(b"O" + text.encode().hex().encode())

    def stop_reply(self, st) -> str:
        if st.reason == "exited":
            self.result = st.status
            return f"W{st.status & 0xFF:02x}"
        if st.reason == "halted":
            self.result = 0
            return "W00"
        if st.reason == "crashed":
            self.result = 3
            return f"X{SIGSEGV:02x}"
        if st.reason == "interrupted":
            return f"T{SIGINT:02x}thread:01;"
        if st.reason == "history-start":
            return f"T{SIGTRAP:02x}replaylog:begin;thread:01;"
        if st.reason == "watchpoint" and st.watch is not None:
            kind, addr = st.watch
            key = {"write": "watch", "read": "rwatch", "access": "awatch"}[kind]
            return f"T{SIGTRAP:02x}{key}:{addr:x};thread:01;"
        if st.reason == "breakpoint" and "hwbreak+" in self.offered:
            return f"T{SIGTRAP:02x}hwbreak:;thread:01;"
        return f"T{SIGTRAP:02x}thread:01;"

    def monitor(self, command: str) -> str:
        words = command.split()
        m = self.machine
        if words[:2] == ["info", "exits"]:
            text = f"exits: {m.stats.summary()}\n"
        elif words[:2] == ["info", "serial"]:
            text = repr(m.serial_output().decode("latin-1")) + "\n"
        elif words[:2] == ["info", "registers"]:
            text = m.target.dump_registers(self.session.cpu).lstrip("\n")
        else:
            text = "monitor commands: info exits, info serial, info registers\n"
        self.console(text)
        return "OK"
