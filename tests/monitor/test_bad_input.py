"""What a careless or hostile QMP client sends: each gets QEMU's error
reply (the shapes and texts real QEMU 7.2 gives) or a clean close, and the
guest runs on with its output intact."""

import json
import socket
import threading

import pytest

from .helpers import RawQmp, finish, start


@pytest.fixture
def running(tmp_path):
    sock = str(tmp_path / "qmp.sock")
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", ready=sock)
    yield sock, proc, tmp_path / "serial.out"
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def error(cls, desc, id_=None, with_id=False):
    msg = {"error": {"class": cls, "desc": desc}}
    if with_id:
        msg["id"] = id_
    return msg


def quit_and_check(sock, proc, serial):
    c = RawQmp(sock)
    c.cmd('{"execute": "qmp_capabilities"}')
    assert c.cmd('{"execute": "query-status"}')["return"]["status"] == "running"
    assert c.cmd('{"execute": "quit"}') == {"return": {}}
    status, _, err = finish(proc)
    assert status == 0 and err == ""
    assert set(serial.read_bytes()) <= {ord(".")}


def test_commands_before_negotiation_are_refused(running):
    sock, proc, serial = running
    c = RawQmp(sock)
    assert c.cmd('{"execute": "query-status", "id": 1}') == error(
        "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'", 1, True)
    assert c.cmd('{"execute": "qmp_capabilities", "arguments": {"enable": ["bogus"]}}') == error(
        "GenericError", "Capability 'bogus' not available")
    assert c.cmd('{"execute": "qmp_capabilities", "id": "a"}') == {"return": {}, "id": "a"}
    assert c.cmd('{"execute": "qmp_capabilities", "id": 2}') == error(
        "CommandNotFound", "Capabilities negotiation is already complete, command ignored", 2, True)
    quit_and_check(sock, proc, serial)


@pytest.mark.parametrize("raw, reply", [
    ('{"execute": "nope", "id": 5}',
     error("CommandNotFound", "The command nope has not been found", 5, True)),
    ('{"execute": "pmemsave", "arguments": {"val": 0}, "id": 1}',
     error("GenericError", "Parameter 'size' is missing", 1, True)),
    ('{"execute": "pmemsave", "arguments": {"val": "x", "size": 1, "filename": "f"}, "id": 1}',
     error("GenericError", "Invalid parameter type for 'val', expected: integer", 1, True)),
    ('{"execute": "pmemsave", "arguments": {"val": true, "size": 1, "filename": "f"}, "id": 1}',
     error("GenericError", "Invalid parameter type for 'val', expected: integer", 1, True)),
    ('{"execute": "query-status", "arguments": {"foo": 1}, "id": 1}',
     error("GenericError", "Parameter 'foo' is unexpected", 1, True)),
    ('{"execute": "query-status", "bar": 1, "id": 1}',
     error("GenericError", "QMP input member 'bar' is unexpected", 1, True)),
    ('[1]', error("GenericError", "QMP input must be a JSON object")),
    ('{"arguments": {}}', error("GenericError", "QMP input lacks member 'execute'")),
    ('{"execute": 5}', error("GenericError", "QMP input member 'execute' must be a string")),
    ('{"execute": "query-status", "arguments": []}',
     error("GenericError", "QMP input member 'arguments' must be an object")),
    ('foo ', error("GenericError", "JSON parse error, invalid keyword 'foo'")),
    ('{"execute": "query-status", "id": [1, {"a": null}]}',
     {"return": {"running": True, "singlestep": False, "status": "running"},
      "id": [1, {"a": None}]}),
])
def test_bad_commands_get_qemus_errors(running, raw, reply):
    """Each reply is what qemu-system-x86_64 7.2 answers to the same bytes."""
    sock, proc, serial = running
    c = RawQmp(sock)
    c.cmd('{"execute": "qmp_capabilities"}')
    assert c.cmd(raw) == reply
    assert c.cmd('{"execute": "query-status", "id": "after"}')["id"] == "after"   # still in step
    quit_and_check(sock, proc, serial)


def test_malformed_json_then_a_control_character_resets_the_parser(running):
    sock, proc, serial = running
    c = RawQmp(sock)
    c.cmd('{"execute": "qmp_capabilities"}')
    assert c.cmd('{"execute": "query-status",, "id": 1}')["error"]["class"] == "GenericError"
    c.send('{"execute": "query-st')               # half an object, then a reset
    c.send('\x1b{"execute": "query-name", "id": 7}')
    assert c.reply() == error("GenericError", "JSON parse error, stray '\"query-st\x1b'")
    assert c.reply() == {"return": {}, "id": 7}
    quit_and_check(sock, proc, serial)


def test_an_over_long_message_is_refused_and_the_connection_goes_on(running):
    sock, proc, serial = running
    c = RawQmp(sock)
    c.cmd('{"execute": "qmp_capabilities"}')
    c.send('{"execute": "query-status", "arguments": {"x": "' + "a" * (2 << 20))
    r = c.reply()
    assert r["error"]["class"] == "GenericError" and "longer than" in r["error"]["desc"]
    c.send('"}}\n')                               # its end: the rest is dropped
    assert c.cmd('{"execute": "query-name", "id": 1}') == {"return": {}, "id": 1}
    deep = "[" * 2000 + "]" * 2000
    assert "nesting" in c.cmd(deep + "\x1b")["error"]["desc"]
    quit_and_check(sock, proc, serial)


def test_clients_that_go_away_mid_command(running):
    sock, proc, serial = running
    for raw in (b'{"execute": "qmp_capabilities"}{"execute": "query-sta',
                b'{"execute": "qmp_capabilities"}{"execute": "human-monitor-command", '
                b'"arguments": {"command-line": "info registers"}}',
                b'{"execute": "qmp_capabilities"}{"execute": "x-query-exits"}'
                b'{"execute": "memsave", "arguments": {"val": 0, "size": 4096, "filename": "/dev/null"}}'):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(raw)
        s.close()                                 # before reading a byte
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.close()                                     # before the greeting is read
    quit_and_check(sock, proc, serial)


def test_many_clients_at_once(running):
    sock, proc, serial = running
    results = []

    def client(k):
        c = RawQmp(sock)
        assert "QMP" in c.greeting
        c.cmd('{"execute": "qmp_capabilities"}')
        r = c.cmd(json.dumps({"execute": "human-monitor-command", "id": k,
                              "arguments": {"command-line": "xp /2xb 0x7c00"}}))
        results.append((k, r))
        c.close()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results, key=lambda kr: kr[0]) == [
        (k, {"return": "0000000000007c00: 0xba 0xf8\r\n", "id": k}) for k in range(24)]
    quit_and_check(sock, proc, serial)
