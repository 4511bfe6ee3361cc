"""The endpoints of ``-qmp`` and ``-monitor``, in QEMU's chardev syntax
(QEMU ``docs/system/invocation``, "Character device options"):

* ``unix:PATH[,server=on][,wait=off]`` -- a unix socket the monitor listens on;
* ``tcp:[HOST]:PORT[,server=on][,wait=off]`` -- a TCP socket; an empty HOST
  is 127.0.0.1 (kasou binds to local addresses unless a host is named);
* ``stdio`` -- standard input and output (``-monitor`` only).

``server=on`` is the only mode (the monitor never connects out);
``wait=on`` (QEMU's default for a server) holds the guest until the first
client connects.  ``nowait`` and ``server`` alone are QEMU's old spellings.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


class ChardevError(ValueError):
    """A malformed endpoint; the message names it and what was expected."""


@dataclass
class Endpoint:
    kind: str                   # "unix", "tcp" or "stdio"
    path: str = ""
    host: str = ""
    port: int = 0
    wait: bool = False

    def listen(self) -> socket.socket:
        """A listening socket for this endpoint (OSError if it cannot be had)."""
        if self.kind == "unix":
            # bound under a temporary name and renamed once listening, so
            # that a client that sees the path can connect (QEMU too
            # replaces a stale socket)
            tmp = f"{self.path}.{os.getpid()}.tmp"
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                s.bind(tmp)
                s.listen(socket.SOMAXCONN)
                os.replace(tmp, self.path)
            except OSError:
                s.close()
                raise
            return s
        else:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host, self.port))
        s.listen(socket.SOMAXCONN)
        return s

    def describe(self, sock: socket.socket | None = None) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        if self.kind == "tcp":
            port = sock.getsockname()[1] if sock is not None else self.port
            return f"tcp:{self.host}:{port}"
        return "stdio"


EXPECTED = "expected unix:PATH,server=on,wait=off, tcp:HOST:PORT,server=on,wait=off or stdio"


def parse_endpoint(option: str, spec: str, stdio_ok: bool = True) -> Endpoint:
    """``-qmp SPEC`` / ``-monitor SPEC`` as an Endpoint."""
    head, *opts = spec.split(",")
    wait = True
    for o in opts:
        key, eq, value = o.partition("=")
        if key == "nowait" and not eq:
            wait = False
        elif key == "server" and value in ("", "on"):
            pass
        elif key == "wait" and value in ("on", "off"):
            wait = value == "on"
        elif key == "server" and value == "off":
            raise ChardevError(f"{option} '{spec}': kasou's monitor only listens (server=on)")
        else:
            raise ChardevError(f"{option} '{spec}': unknown option '{o}' ({EXPECTED})")
    if head == "stdio" and not opts:
        if not stdio_ok:
            raise ChardevError(f"{option} stdio: QMP on stdio is not supported; {EXPECTED}")
        return Endpoint("stdio")
    kind, _, rest = head.partition(":")
    if kind == "unix" and rest:
        return Endpoint("unix", path=rest, wait=wait)
    if kind == "tcp" and ":" in rest:
        host, _, port = rest.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        try:
            n = int(port)
        except ValueError:
            raise ChardevError(f"{option} '{spec}': '{port}' is not a port number") from None
        if not 0 <= n < 65536:
            raise ChardevError(f"{option} '{spec}': port {n} is out of range")
        return Endpoint("tcp", host=host, port=n, wait=wait)
    raise ChardevError(f"{option} '{spec}': {EXPECTED}")



def parse_gdb_device(option: str, device: str, none_ok: bool = False) -> int | None:
    """The gdb stub's device, as QEMU's ``gdbserver_start`` takes it (``-gdb
    DEV``, HMP ``gdbserver DEV``): ``tcp::PORT`` (or ``tcp:127.0.0.1:PORT``,
    ``tcp:localhost:PORT``; the stub listens on 127.0.0.1 only), or, if
    ``none_ok``, ``none`` (None: no stub)."""
    if none_ok and device == "none":
        return None
    parts = device.split(":")
    if len(parts) != 3 or parts[0] != "tcp" or parts[1] not in ("", "localhost", "127.0.0.1"):
        raise ChardevError(f"{option} '{device}': expected tcp::PORT"
                           f"{' or none' if none_ok else ''} (the stub listens on 127.0.0.1 only)")
    try:
        port = int(parts[2])
    except ValueError:
        raise ChardevError(f"{option} '{device}': '{parts[2]}' is not a port number") from None
    if not 0 <= port < 65536:
        raise ChardevError(f"{option} '{device}': port {port} is out of range")
    return port
