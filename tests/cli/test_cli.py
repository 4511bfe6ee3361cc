"""The `emu` command as a user meets it: runs, exit statuses, and bad input.

Every bad input must give exactly one line on stderr, a non-zero status and
no traceback."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def emu(*args, input=None, env=None):
    e = dict(os.environ)
    e["PYTHONPATH"] = REPO + os.pathsep + e.get("PYTHONPATH", "")
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "emu", *args], capture_output=True,
                          input=input, cwd=REPO, env=e, timeout=120)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text) if isinstance(text, str) else p.write_bytes(text)
    return str(p)


HELLO = """
    mov dx, 0x3f8
    mov al, 'h'
    out dx, al
    mov al, 'i'
    out dx, al
    mov al, 10
    out dx, al
    mov al, 0x2a
    out 0xf4, al
"""


def one_line_error(r):
    assert r.returncode != 0
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()
    return lines[0]


def test_run_prints_uart_output_and_exits_with_debug_exit_status(tmp_path):
    r = emu("run", write(tmp_path, "hello.S", HELLO))
    assert r.stdout == b"hi\n"
    assert r.returncode == (0x2A << 1) | 1


def test_kernel_option_and_serial_file(tmp_path):
    out = tmp_path / "serial.txt"
    r = emu("run", "-M", "pc", "-accel", "interp", "-m", "4M", "-kernel", write(tmp_path, "h.S", HELLO),
            "-serial", f"file:{out}")
    assert r.returncode == 85
    assert out.read_bytes() == b"hi\n"
    assert r.stdout == b""


def test_flat_binary_and_hlt_status_zero(tmp_path):
    # mov al, 'x'; mov dx, 0x3f8; out dx, al; cli; hlt
    binary = bytes([0xB0, ord("x"), 0xBA, 0xF8, 0x03, 0xEE, 0xFA, 0xF4])
    r = emu("run", write(tmp_path, "g.bin", binary))
    assert r.stdout == b"x"
    assert r.returncode == 0


def test_icount_limit_has_its_own_status(tmp_path):
    r = emu("run", "-icount-limit", "50", write(tmp_path, "spin.S", "l: jmp l\n"))
    assert r.returncode == 124
    assert "instruction limit reached (50 instructions)" in one_line_error(r)


def test_exits_log(tmp_path):
    log = tmp_path / "log.txt"
    r = emu("run", "-d", "exits", "-D", str(log), write(tmp_path, "h.S", HELLO))
    text = log.read_text()
    assert r.returncode == 85
    assert text.count("exit: IO out port 0x3f8") == 3
    assert "IO out port 0xf4" in text


@pytest.mark.parametrize("args, expect", [
    (("run", "/nonexistent/guest.bin"), "no such file"),
    (("run", "--bogus-option", "x.S"), "unrecognized arguments"),
    (("run", "-cpu", "z80", "x.S"), "invalid choice: 'z80'"),
    (("run", "-accel", "qemu", "x.S"), "invalid choice: 'qemu'"),
    (("run", "-m", "lots", "x.S"), "bad memory size"),
    (("run", "-icount-limit", "-5", "x.S"), "must be positive"),
    (("run", "-d", "everything", "x.S"), "unknown -d item"),
    (("run",), "no guest given"),
    (("frobnicate",), "invalid choice: 'frobnicate'"),
])
def test_bad_options_get_one_line(args, expect):
    r = emu(*args)
    line = one_line_error(r)
    assert expect in line
    assert r.returncode in (1, 2)


def test_bad_assembly_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.S", "mov ax, 1\nmov bx, 2\nfrobnicate ax, 3\nhlt\n")
    line = one_line_error(emu("run", path))
    assert f"{path}:3:" in line
    assert "frobnicate" in line


def test_image_larger_than_ram(tmp_path):
    path = write(tmp_path, "big.bin", b"\x90" * (200 * 1024))
    line = one_line_error(emu("run", "-m", "128K", path))
    assert "does not fit in RAM" in line


def test_directory_as_guest(tmp_path):
    line = one_line_error(emu("run", str(tmp_path)))
    assert "is a directory" in line


def test_serial_spec_is_checked(tmp_path):
    line = one_line_error(emu("run", "-serial", "tcp:1234", write(tmp_path, "h.S", HELLO)))
    assert "expected stdio, file:PATH or none" in line


def test_in_asm_cpu_and_int_logs(tmp_path):
    log = tmp_path / "log.txt"
    src = """
    xor ax, ax
    mov ds, ax
    mov word ptr [0x80], handler
    mov word ptr [0x82], 0
    int 0x20
    mov al, 0
    out 0xf4, al
handler:
    iret
"""
    r = emu("run", "-d", "in_asm,cpu,int", "-D", str(log), write(tmp_path, "int.S", src))
    text = log.read_text()
    assert r.returncode == 1
    assert "IN: 0x00007c00:  xor ax, ax" in text
    assert "int: vector 0x20 (interrupt), return to 0x7c12" in text
    assert "IN: 0x00007c16:  iret" in text
    assert "ip=7c16" in text          # the state before the handler's first instruction


def test_conformance_on_a_directory_without_vectors(tmp_path):
    line = one_line_error(emu("conformance", str(tmp_path)))
    assert "metadata.json" in line


def test_conformance_json_shape(suite_dir):
    suite_dir("286")            # present and checked, or one line saying `make vectors`
    r = emu("conformance", "286", "--cpu", "286", "--files", "04.json.gz,F6.6.json.gz", "--json")
    import json
    doc = json.loads(r.stdout)
    assert r.returncode == 0
    assert doc["total"] == 400 and doc["passed"] == 400 and doc["failed"] == 0
    assert set(doc["files"]) == {"04.json.gz", "F6.6.json.gz"}
    assert doc["files"]["F6.6.json.gz"]["failed_ids"] == []


def test_coverage_lists_exactly_the_encodings_without_semantics():
    from emu.isa.x86.decode import tables
    from emu.isa.x86.semantics import REGISTRY
    r = emu("coverage", "-cpu", "max")
    assert r.returncode == 0
    text = r.stdout.decode()
    rows = tables("max").rows()
    missing = {row.name for row in rows if REGISTRY.get(row.name) is None}
    listed = set()
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) >= 2 and parts[0][:2].isalnum() and parts[-1] != "":
            listed.update(p for p in parts if p.isupper() and p in {row.name for row in rows})
    assert listed == missing
    assert f"{len(rows) - len([r for r in rows if REGISTRY.get(r.name) is None])} of {len(rows)}" in text


def test_kvm_missing_is_one_line(tmp_path):
    r = emu("run", "-accel", "kvm", write(tmp_path, "h.S", HELLO), env={"KASOU_KVM_DEV": "/nonexistent/kvm"})
    line = one_line_error(r)
    assert "use -accel tcg" in line
    assert r.returncode == 1


def test_kvm_unknown_engine_in_demo_list():
    line = one_line_error(emu("demo", "-accel", "interp,qemu"))
    assert "unknown accelerator 'qemu'" in line


ECHO = """
    mov bx, 0x3f8
again:
    mov dx, 0x3fd
wait:
    in al, dx
    test al, 1            ; LSR.DR: a byte has arrived
    jz wait
    mov dx, bx
    in al, dx             ; RBR
    cmp al, 0x61
    jb keep
    cmp al, 0x7a
    ja keep
    sub al, 0x20          ; upper-case it
keep:
    out dx, al
    cmp al, 0x0a
    jne again
    mov al, 0
    out 0xf4, al
"""


def test_uart_input_from_stdin(tmp_path):
    r = emu("run", write(tmp_path, "echo.S", ECHO), input=b"hello\n")
    assert r.stdout == b"HELLO\n"
    assert r.returncode == 1


def test_uart_input_from_a_given_string(tmp_path):
    r = emu("run", "--input", "kasou\n", write(tmp_path, "echo.S", ECHO))
    assert r.stdout == b"KASOU\n"


def test_bench_step_measures_every_engine_asked_for(tmp_path):
    """emu bench --step: one row per engine with both figures, the ratio to
    unicorn+hook, and the same rows as JSON."""
    out = tmp_path / "step.json"
    r = emu("bench", "--step", "--steps", "4000", "--guests", "fib", "-accel", "interp,tcg,unicorn",
            "--json", str(out))
    assert r.returncode == 0, r.stderr.decode()
    text = r.stdout.decode()
    assert "single-stepping: microseconds per instruction" in text
    rows = [ln.split() for ln in text.splitlines() if ln.startswith("fib ")]
    assert [row[1] for row in rows] == ["interp", "tcg", "unicorn"]
    for row in rows:
        assert row[2] == "4000"                       # stepped exactly as asked
        assert float(row[3]) > 0 and float(row[4]) > 0
    assert rows[0][5].endswith("x") and rows[1][5].endswith("x")
    import json
    doc = json.loads(out.read_text())["step_results"]
    assert [(d["guest"], d["accel"], d["from_reset_steps"]) for d in doc] == \
        [("fib", "interp", 4000), ("fib", "tcg", 4000), ("fib", "unicorn", 4000)]
    assert all(d["warm_us"] > 0 for d in doc)


@pytest.mark.parametrize("args, expect", [
    (["bench", "--step", "--steps", "0"], "must be positive"),
    (["bench", "--step", "--guests", "nosuch"], "unknown bench guest 'nosuch'"),
])
def test_bench_step_bad_input_is_one_line(args, expect):
    assert expect in one_line_error(emu(*args))
