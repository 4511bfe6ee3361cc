"""QMP, the QEMU Machine Protocol (QEMU ``docs/interop/qmp-spec.rst``;
commands and events from ``qapi/*.json``), as a QEMU client sees it.

A connection gets the greeting ``{"QMP": {"version": ..., "capabilities":
[]}}`` and starts in capabilities-negotiation mode, where only
``qmp_capabilities`` is accepted (anything else is CommandNotFound); after
it, commands ``{"execute": NAME, "arguments": {...}, "id": ANY}`` are
answered ``{"return": VALUE}`` or ``{"error": {"class", "desc"}}``, the
``id`` echoed as sent, and events ``{"event", "data", "timestamp"}`` arrive
between replies.  Input is a JSON stream (no newline needed between
objects); a control character other than TAB, CR and LF resets the parser,
as in QEMU's json-lexer.  Every message ends in CRLF.

The commands and their argument checks follow the QAPI schema: a missing,
unexpected or wrongly typed argument is a GenericError naming it.  kasou's
own commands carry QEMU's ``x-`` prefix for what is not QEMU's:
``x-query-exits`` (VM exits by reason, as ``info exits``) and
``x-query-tb`` (the translator's statistics), and the event
``X-KASOU-DEBUG-STOP`` when the debugger stops the guest (see
:mod:`.server`).  No capability is offered: out-of-band execution
(``oob``, ``exec-oob``) is not implemented (docs/monitor.md says why).
"""

from __future__ import annotations

import json
import os
import threading


#: the longest JSON object a client may send (QEMU's lexer has 64 MiB; a
#: command is a few hundred bytes)
MAX_MESSAGE = 1 << 20
#: deepest nesting of [ and { (QEMU's json-streamer: 1024)
MAX_NESTING = 1024


class Quit(Exception):
    """``quit``: end the run (raised on the main thread by the command)."""


class QmpError(Exception):
    """A command's error reply: QEMU's error class and its description."""

    def __init__(self, desc: str, cls: str = "GenericError"):
        super().__init__(desc)
        self.cls = cls
        self.desc = desc


def version_info() -> dict:
    """``query-version``: kasou's version in QEMU's shape (numbers past the
    first three are dropped, a non-numeric part reads 0)."""
    from .. import version
    text = version()
    parts = []
    for p in text.split(".")[:3]:
        digits = "".join(c for c in p if c.isdigit()) if p[:1].isdigit() else ""
        parts.append(int(digits) if digits else 0)
    parts += [0] * (3 - len(parts))
    return {"qemu": {"major": parts[0], "minor": parts[1], "micro": parts[2]},
            "package": f" (kasou {text})"}


class JsonStream:
    """Splits a byte stream into top-level JSON values, as QEMU's
    json-streamer: by balanced braces and brackets outside strings.  A
    message longer than MAX_MESSAGE is refused once and the rest of it
    discarded up to the next line end or control character."""

    def __init__(self):
        self.buf = bytearray()
        self.depth = 0
        self.in_str = None          # the quote character while in a string
        self.escape = False
        self.str_start = 0          # where in buf the open string starts
        self.skipping = False

    def reset(self) -> None:
        self.buf.clear()
        self.depth, self.in_str, self.escape, self.str_start = 0, None, False, 0

    def feed(self, data: bytes):
        """Yield ("value", text), ("junk", text), ("stray", text),
        ("too-long", None) or ("too-deep", None) items."""
        for b in data:
            c = chr(b)
            if self.skipping:               # the rest of an over-long message
                if b < 0x20 and c != "\t":
                    self.skipping = False
                continue
            if b < 0x20 and c not in "\t\r\n":
                # QEMU's lexer names the token it cut short: an open string
                # from its quote
                text = self.buf[self.str_start if self.in_str else 0:].decode("utf-8", "replace")
                self.reset()
                if text:                    # what it cut short is an error, as QEMU's
                    yield "stray", text + c
                continue
            if self.depth == 0 and not self.in_str:
                if c in " \t\r\n":
                    if self.buf:            # the end of a bare token
                        text = self.buf.decode("utf-8", "replace")
                        self.reset()
                        yield "junk", text
                    continue
                if c in "{[" and self.buf:
                    text = self.buf.decode("utf-8", "replace")
                    self.reset()
                    yield "junk", text
            self.buf.append(b)
            if len(self.buf) > MAX_MESSAGE:
                self.reset()
                self.skipping = True
                yield "too-long", None
                continue
            if self.in_str:
                if self.escape:
                    self.escape = False
                elif c == "\\":
                    self.escape = True
                elif c == self.in_str:
                    self.in_str = None
                continue
            if c in "\"'" and self.depth:
                self.in_str = c
                self.str_start = len(self.buf) - 1
            elif c in "{[":
                self.depth += 1
                if self.depth > MAX_NESTING:
                    self.reset()
                    yield "too-deep", None
            elif c in "}]" and self.depth:
                self.depth -= 1
                if self.depth == 0:
                    text = self.buf.decode("utf-8", "replace")
                    self.reset()
                    yield "value", text


# -- the commands ------------------------------------------------------------------------------
# name -> (handler(conn, args), {arg: (type, required)}); types as QAPI's:
# "str", "int", "bool", "any".  Handlers run on the connection's thread and
# reach the machine through conn.mon.call().
COMMANDS = {}


def command(name: str, **schema):
    def register(fn):
        COMMANDS[name] = (fn, schema)
        return fn
    return register


_TYPES = {"str": (str,), "int": (int,), "bool": (bool,), "any": (object,)}
_TYPE_NAMES = {"str": "string", "int": "integer", "bool": "boolean", "any": "any"}


def check_arguments(name: str, schema: dict, args: dict) -> None:
    for key in args:
        if key not in schema:
            raise QmpError(f"Parameter '{key}' is unexpected")
    for key, (typ, required) in schema.items():
        if key not in args:
            if required:
                raise QmpError(f"Parameter '{key}' is missing")
            continue
        v = args[key]
        if not isinstance(v, _TYPES[typ]) or (typ == "int" and isinstance(v, bool)):
            raise QmpError(f"Invalid parameter type for '{key}', expected: {_TYPE_NAMES[typ]}")


@command("qmp_capabilities", enable=("any", False))
def _qmp_capabilities(conn, args):
    raise QmpError("Capabilities negotiation is already complete, command ignored",
                   "CommandNotFound")


@command("query-version")
def _query_version(conn, args):
    return version_info()


@command("query-status")
def _query_status(conn, args):
    mon = conn.mon
    return {"running": mon.running, "singlestep": False, "status": mon.state}


@command("query-kvm")
def _query_kvm(conn, args):
    mon = conn.mon
    return {"enabled": mon.machine.accel_name == "kvm",
            "present": os.path.exists(os.environ.get("KASOU_KVM_DEV", "/dev/kvm"))}


@command("query-commands")
def _query_commands(conn, args):
    return [{"name": n} for n in sorted(COMMANDS)]


@command("query-name")
def _query_name(conn, args):
    return {} if conn.mon.name is None else {"name": conn.mon.name}


@command("query-target")
def _query_target(conn, args):
    return {"arch": "x86_64"}


@command("query-machines")
def _query_machines(conn, args):
    from ..boards import BOARDS
    return [{"name": b, "cpu-max": 1, "hotpluggable-cpus": False, "numa-mem-supported": False,
             "deprecated": False, "default-cpu-type": "max-x86_64-cpu",
             "default-ram-id": "pc.ram", **({"is-default": True} if b == "pc" else {})}
            for b in BOARDS]


@command("query-cpus-fast")
def _query_cpus_fast(conn, args):
    return [{"cpu-index": 0, "qom-path": "/machine/unattached/device[0]",
             "thread-id": threading.main_thread().native_id, "target": "x86_64",
             "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}}]


@command("stop")
def _stop(conn, args):
    mon = conn.mon

    def stop():
        if mon.state == "running":
            mon.set_state("paused")
    mon.call(stop)
    return {}


@command("cont")
def _cont(conn, args):
    mon = conn.mon

    def cont():
        if mon.state == "shutdown":
            raise QmpError("Resetting the Virtual Machine is required")
        mon.set_state("running")
    mon.call(cont)
    return {}


@command("system_reset")
def _system_reset(conn, args):
    conn.mon.call(conn.mon.system_reset)
    return {}


@command("system_powerdown")
def _system_powerdown(conn, args):
    # the pc board has no ACPI power button: the event, and nothing for the guest
    conn.mon.emit("POWERDOWN")
    return {}


@command("quit")
def _quit(conn, args):
    conn.reply({})                  # as QEMU: the reply, then SHUTDOWN
    conn.mon.call(conn.mon.quit)


def _save(conn, args, virtual: bool):
    from ..debug.session import DebugError, physical_runs
    mon = conn.mon
    val, size, path = args["val"], args["size"], args["filename"]
    if val < 0 or size < 0:
        raise QmpError(f"Invalid parameter '{'val' if val < 0 else 'size'}'")

    def read():
        m = mon.machine
        m.accel.sync_state()
        if virtual:
            try:
                runs = physical_runs(m, m.cpu, val, size)
            except DebugError as e:
                raise QmpError(f"Invalid addr 0x{val:x}/size {size} specified: {e}") from None
        else:
            if size and not m.ram.contains(val, size):
                raise QmpError(f"Invalid addr 0x{val:x}/size {size} specified")
            runs = [(val, size)]
        return b"".join(m.ram.read_bytes(a, n) for a, n in runs if n)
    data = mon.call(read)
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise QmpError(f"Could not open '{path}': {e.strerror}") from None
    return {}


@command("memsave", val=("int", True), size=("int", True), filename=("str", True),
         **{"cpu-index": ("int", False)})
def _memsave(conn, args):
    if args.get("cpu-index", 0) != 0:
        raise QmpError("Parameter 'cpu-index' expects a CPU number")
    return _save(conn, args, virtual=True)


@command("pmemsave", val=("int", True), size=("int", True), filename=("str", True))
def _pmemsave(conn, args):
    return _save(conn, args, virtual=False)


@command("human-monitor-command", **{"command-line": ("str", True), "cpu-index": ("int", False)})
def _hmc(conn, args):
    if args.get("cpu-index", 0) != 0:
        raise QmpError("Parameter 'cpu-index' expects a CPU number")
    out = conn.mon.human_monitor_command(args["command-line"])
    return out.replace("\n", "\r\n")


@command("x-query-exits")
def _x_query_exits(conn, args):
    mon = conn.mon
    return mon.call(lambda: {"total": mon.machine.stats.total(),
                             "by-reason": dict(mon.machine.stats.by_reason),
                             "by-key": dict(mon.machine.stats.by_key)})


@command("x-query-tb")
def _x_query_tb(conn, args):
    mon = conn.mon

    def stats():
        accel = mon.machine.accel
        if accel.name != "tcg":
            raise QmpError(f"the {accel.name} engine has no translation blocks (use -accel tcg)")
        return {k.replace("_", "-"): v for k, v in accel.stats().items()}
    return mon.call(stats)


# -- a connection ------------------------------------------------------------------------------
class QmpConnection:
    """One QMP client: greeting, negotiation, then commands and events."""

    def __init__(self, mon, stream):
        self.mon = mon
        self.stream = stream
        self.negotiated = False
        self.pending_id = None
        self.has_id = False

    def send_message(self, msg: dict) -> bool:
        return self.stream.write(json.dumps(msg).encode() + b"\r\n")

    def reply(self, value) -> None:
        msg = {"return": value}
        if self.has_id:
            msg["id"] = self.pending_id
        self.send_message(msg)

    def error(self, e: QmpError, with_id: bool = True) -> None:
        msg = {"error": {"class": e.cls, "desc": e.desc}}
        if with_id and self.has_id:
            msg["id"] = self.pending_id
        self.send_message(msg)

    def serve(self) -> None:
        mon = self.mon
        self.send_message({"QMP": {"version": version_info(), "capabilities": []}})
        parser = JsonStream()
        try:
            while not mon.closed.is_set():
                data = self.stream.read()
                if not data:
                    return
                for kind, text in parser.feed(data):
                    self.has_id = False
                    if kind == "value":
                        self.handle_text(text)
                    elif kind == "junk":
                        self.error(QmpError(f"JSON parse error, invalid keyword '{text[:64]}'"))
                    elif kind == "stray":
                        self.error(QmpError(f"JSON parse error, stray '{text[-64:]}'"))
                    elif kind == "too-long":
                        self.error(QmpError(f"JSON parse error, message longer than "
                                            f"{MAX_MESSAGE} bytes"))
                    elif kind == "too-deep":
                        self.error(QmpError(f"JSON parse error, nesting deeper than {MAX_NESTING}"))
                    if mon.state == "shutdown" and mon.closed.is_set():
                        return
        except Quit:
            return
        finally:
            with mon.lock:
                mon.clients.discard(self)
            self.stream.close()

    def handle_text(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError as e:
            self.error(QmpError(f"JSON parse error, {e.msg}"))
            return
        if not isinstance(msg, dict):
            self.error(QmpError("QMP input must be a JSON object"))
            return
        if "id" in msg:
            self.pending_id, self.has_id = msg["id"], True
        self.mon.command_started()
        try:
            self.execute(msg)
        except QmpError as e:
            self.error(e)
        except Quit:
            raise
        except Exception as e:          # a command failed on the machine: its error reply
            from ..debug.session import DebugError
            if not isinstance(e, (DebugError, ValueError, OSError)):
                raise
            self.error(QmpError(str(e)))
        finally:
            self.mon.command_done()

    def execute(self, msg: dict) -> None:
        for key in msg:
            if key not in ("execute", "exec-oob", "arguments", "id"):
                raise QmpError(f"QMP input member '{key}' is unexpected")
        if "exec-oob" in msg:
            raise QmpError("QMP input member 'exec-oob' is unexpected: out-of-band execution "
                           "was not enabled (no 'oob' capability)")
        if "execute" not in msg:
            raise QmpError("QMP input lacks member 'execute'")
        name = msg["execute"]
        if not isinstance(name, str):
            raise QmpError("QMP input member 'execute' must be a string")
        args = msg.get("arguments", {})
        if not isinstance(args, dict):
            raise QmpError("QMP input member 'arguments' must be an object")
        if not self.negotiated:
            if name != "qmp_capabilities":
                raise QmpError("Expecting capabilities negotiation with 'qmp_capabilities'",
                               "CommandNotFound")
            check_arguments(name, COMMANDS[name][1], args)
            enable = args.get("enable", [])
            if not isinstance(enable, list) or any(c != "oob" for c in enable) or enable:
                raise QmpError(f"Capability '{enable[0] if isinstance(enable, list) and enable else enable}' "
                               "not available")
            self.negotiated = True
            with self.mon.lock:
                self.mon.clients.add(self)
            self.reply({})
            return
        entry = COMMANDS.get(name)
        if entry is None:
            raise QmpError(f"The command {name} has not been found", "CommandNotFound")
        fn, schema = entry
        check_arguments(name, schema, args)
        value = fn(self, args)
        if value is not None:
            self.reply(value)
