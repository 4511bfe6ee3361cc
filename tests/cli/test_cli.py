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


def test_icount_limit_says_where_the_guest_stopped(tmp_path):
    """Where a limit stopped the guest, in the architecture's own terms:
    CS:IP on x86; the mode, the instruction set and the PC on Arm."""
    r = emu("run", "-icount-limit", "3", write(tmp_path, "spin.S", "nop\nnop\nl: jmp l\n"))
    assert one_line_error(r).endswith("guest stopped at 0000:7c02")
    spin = write(tmp_path, "spin.s", ".text\n.global _start\n_start: nop\nnop\nl: b l\n")
    r = emu("run", "-M", "virt", "-icount-limit", "3", spin)
    assert r.returncode == 124
    assert one_line_error(r).endswith("guest stopped at svc arm 40010008")


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
    text, translator = r.stdout.decode().split("\ntranslator (-accel tcg)")   # its section after
    assert "rm16" in translator
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


# -- options as QEMU has them ------------------------------------------------------------

def test_version():
    from importlib import metadata
    r = emu("--version")
    assert r.returncode == 0
    assert r.stdout.decode().split() == ["emu", "(kasou)", metadata.version("kasou")]


#: the -d items (QEMU's names, and kasou's "exits")
LOG_ITEMS = {"in_asm", "op", "op_opt", "out_asm", "exec", "nochain", "cpu", "int", "exits", "asm"}


def listed(text):
    """{name: description} of a `help` listing: a title, then '  NAME  text'."""
    lines = text.splitlines()
    assert lines and not lines[0].startswith(" ")
    out = {}
    for ln in lines[1:]:
        name, _, rest = ln.strip().partition(" ")
        if ln.startswith("  ") and not ln[2].isspace():
            out[name] = rest.strip()
    return out


def test_d_help_lists_every_log_item_with_a_line_each(tmp_path):
    r = emu("run", "-d", "help")
    assert r.returncode == 0 and r.stderr == b""
    items = listed(r.stdout.decode())
    assert set(items) == LOG_ITEMS
    assert all(items.values())
    for item in LOG_ITEMS:          # every item listed is one -d takes
        log = tmp_path / f"{item}.log"
        ok = emu("run", "-d", item, "-D", str(log), "-icount-limit", "20",
                 write(tmp_path, "h.S", HELLO))
        assert ok.returncode == 85, ok.stderr.decode()


def test_semihosting_on_the_pc_board_is_one_line(tmp_path):
    r = emu("run", "-semihosting", write(tmp_path, "h.S", HELLO))
    assert r.returncode != 0 and r.stdout == b""
    assert r.stderr.decode() == ("emu run: -semihosting: machine 'pc' has no Arm semihosting "
                                 "(expected an Arm board: virt)\n")


def test_machine_help_lists_the_boards():
    r = emu("run", "-M", "help")
    assert r.returncode == 0 and r.stderr == b""
    from emu.boards import BOARDS
    assert set(listed(r.stdout.decode())) == set(BOARDS) == {"pc", "virt", "x86-none", "arm-none"}


@pytest.mark.parametrize("args", [("run", "-cpu", "help"), ("debug", "-cpu", "help"),
                                  ("conformance", "-cpu", "help"), ("coverage", "-cpu", "help")])
def test_cpu_help_lists_models_and_the_engines_that_model_each(args):
    r = emu(*args)
    assert r.returncode == 0 and r.stderr == b""
    lines = r.stdout.decode().splitlines()
    engines = {}
    for k, ln in enumerate(lines):
        if ln.startswith("  ") and not ln[2].isspace():
            model = ln.split()[0]
            follow = lines[k + 1].strip()
            assert follow.startswith("modelled by: ")
            engines[model] = follow[len("modelled by: "):].split(", ")
    # the chips' own models are the interpreter's and the translator's;
    # unicorn (a Haswell) and KVM (the host) run a modern x86; the Arm
    # models run on the interpreter and the translator, the ARMv7-A one on
    # unicorn too (it has no ARMv4T core); KVM refuses Arm guests
    assert engines == {"8086": ["interp", "tcg"], "286": ["interp", "tcg"],
                       "max": ["interp", "tcg", "unicorn", "kvm"],
                       "arm7tdmi": ["interp", "tcg"], "cortex-a15": ["interp", "tcg", "unicorn"]}


def test_enable_kvm_is_accel_kvm(tmp_path):
    r = emu("run", "-enable-kvm", write(tmp_path, "h.S", HELLO), env={"KASOU_KVM_DEV": "/nonexistent/kvm"})
    assert "use -accel tcg" in one_line_error(r)       # it asked for KVM
    if not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm on this machine: the guest was not run on KVM")
    r = emu("run", "-enable-kvm", "-d", "exits", write(tmp_path, "h.S", HELLO))
    assert r.returncode == 85 and r.stdout == b"hi\n"


def test_nographic_is_accepted_and_the_serial_port_is_on_stdio(tmp_path):
    r = emu("run", "-nographic", write(tmp_path, "h.S", HELLO))
    assert (r.returncode, r.stdout, r.stderr) == (85, b"hi\n", b"")


def test_S_without_gdb_or_a_monitor_is_refused(tmp_path):
    line = one_line_error(emu("run", "-S", write(tmp_path, "h.S", HELLO)))
    assert line.startswith("emu run: -S ")
    assert "-gdb" in line and "-qmp" in line and "-monitor" in line
    assert line.endswith("(see 'emu run --help')")


def test_two_kernel_images_are_refused(tmp_path):
    a, b = write(tmp_path, "a.S", HELLO), write(tmp_path, "b.S", HELLO)
    r = emu("run", "-kernel", a, b)
    line = one_line_error(r)
    assert r.returncode == 2 and a in line and b in line and "one guest" in line
    line = one_line_error(emu("run", "-kernel", a, "-kernel", b))
    assert "-kernel given twice" in line


def test_gdb_port_in_use_names_the_address(tmp_path):
    import socket
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        r = emu("run", "-gdb", f"tcp::{port}", write(tmp_path, "h.S", HELLO))
    finally:
        busy.close()
    line = one_line_error(r)
    assert r.returncode == 1
    assert line.startswith("emu run: ") and f"127.0.0.1:{port}" in line and "in use" in line


def test_memory_units_are_explained():
    text = emu("run", "--help").stdout.decode()
    assert "a bare number is MiB" in " ".join(text.split())
    line = one_line_error(emu("run", "-m", "lots", "x.S"))
    assert "a bare number is MiB" in line and "512K, 16M, 1G" in line


MMIO_ABOVE_1M = """
    mov ax, 0xffff
    mov ds, ax
    mov byte ptr [0x10], 1      ; linear 0x100000, the first byte above 1 MiB
    mov al, 0
    out 0xf4, al
"""


@pytest.mark.parametrize("size, ram_bytes", [("1", 1 << 20), ("1024K", 1 << 20), ("1M", 1 << 20),
                                             ("2", 2 << 20), ("2MiB", 2 << 20), ("2048kb", 2 << 20),
                                             ("1048576B", 1 << 20)])
def test_memory_size_units(tmp_path, size, ram_bytes):
    """A bare -m number is MiB (QEMU); the guest's write at 1 MiB is an MMIO
    exit exactly when RAM ends there."""
    log = tmp_path / "log"
    r = emu("run", "-m", size, "-d", "exits", "-D", str(log), write(tmp_path, "m.S", MMIO_ABOVE_1M))
    assert r.returncode == 1, r.stderr.decode()
    assert ("MMIO write 0x100000" in log.read_text()) == (ram_bytes == 1 << 20)


@pytest.mark.parametrize("size", ["16B", "5G", "0"])
def test_memory_size_out_of_range(size):
    line = one_line_error(emu("run", "-m", size, "x.S"))
    assert f"memory size '{size}' must be a multiple of 4 KiB between 64K and 4G" in line


def test_kernel_help_names_every_image_form():
    text = " ".join(emu("run", "--help").stdout.decode().split())
    assert "flat binary, an ELF executable, or assembly source (.S/.asm)" in text


def test_diff_help_says_two_engines_and_documents_max_steps():
    r = emu("diff", "--help")
    text = " ".join(r.stdout.decode().split())
    assert r.returncode == 0
    assert "-accel A,B" in text and "TWO engines" in text
    assert "--max-steps N" in text and "(default 10000" in text


@pytest.mark.parametrize("accel", ["interp", "interp,tcg,unicorn", "interp,qemu"])
def test_diff_wants_exactly_two_known_engines(tmp_path, accel):
    r = emu("diff", "-accel", accel, write(tmp_path, "h.S", HELLO))
    line = one_line_error(r)
    assert r.returncode == 2 and line.startswith("emu diff: -accel ")
    assert ("invalid choice: 'qemu'" if "qemu" in accel else "exactly two engines") in line


def test_diff_says_when_the_step_limit_ended_it(tmp_path):
    r = emu("diff", "-accel", "interp,tcg", "--max-steps", "30", write(tmp_path, "spin.S", "l: jmp l\n"))
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "no divergence in the first 30 steps" in out
    assert "step limit (--max-steps 30)" in out and "before the guest ended" in out


def test_conformance_takes_cpu_and_accel_with_one_dash_and_with_two():
    shared = os.environ.get("KASOU_SHARED", os.path.join(REPO, "..", "shared"))
    path = os.path.join(shared, "conformance", "80286", "v1_real_mode")
    import json
    for cpu, accel in (("-cpu", "-accel"), ("--cpu", "--accel")):
        r = emu("conformance", path, cpu, "286", accel, "tcg", "--files", "04.json.gz",
                "--limit", "20", "--json")
        doc = json.loads(r.stdout)
        assert (r.returncode, doc["cpu"], doc["accel"], doc["passed"]) == (0, "286", "tcg", 20)


def test_conformance_verbose_shows_what_differs(tmp_path):
    """-v: for each failed vector, the registers, the FLAGS bits by name and
    the memory bytes that differ, each as got vs expected.  ADD AL, 1 with
    AL = 0xFF really gives AL = 0, CF = ZF = AF = PF = 1; the vector
    expects AL = 1 and CF clear, and a byte that is not there."""
    import gzip
    import json
    (tmp_path / "metadata.json").write_text(json.dumps({"opcodes": {"04": {"status": "normal"}}}))
    regs = {"ax": 0x00FF, "bx": 0, "cx": 0, "dx": 0, "cs": 0x1000, "ss": 0x2000, "ds": 0x3000,
            "es": 0x4000, "sp": 0x100, "bp": 0, "si": 0, "di": 0, "ip": 0x100, "flags": 0xF002}
    vec = {"name": "add al,0x1", "bytes": [0x04, 0x01], "test_num": 7,
           "initial": {"regs": regs, "ram": [[0x10100, 0x04], [0x10101, 0x01]]},
           "final": {"regs": {"ax": 0x0001, "ip": 0x102, "flags": 0xF002 | 0x54},
                     "ram": [[0x30010, 0x5B]]}}
    with gzip.open(tmp_path / "04.json.gz", "wt") as f:
        json.dump([vec], f)
    r = emu("conformance", str(tmp_path), "-cpu", "8086", "-v")
    assert r.returncode == 1
    lines = [ln.strip() for ln in r.stdout.decode().splitlines()]
    at = lines.index("#7 add al,0x1:")
    assert lines[at + 1:at + 4] == [
        "ax: got 0000, expected 0001",
        "flags: got f057, expected f056: CF got 1, expected 0",
        "memory [30010]: got 00, expected 5b"]


# -- -d exits: the instruction of each exit --------------------------------------------

EXITS_REAL = """
    mov dx, 0x3f8
    mov al, 'h'
put:
    out dx, al
get:
    in al, dx
    mov ax, 0xffff
    mov ds, ax
poke:
    mov byte ptr [0x10], 1      ; linear 0x100000: MMIO with -m 1
peek:
    mov al, [0x11]
    mov al, 0x2a
done:
    out 0xf4, al
"""

EXITS_PROTECTED = """
    lgdt [gdt_desc]
    mov ax, 1
    lmsw ax                     ; CR0.PE, the 286 way
    jmp far 0x08:pm32
.code32
pm32:
    mov dx, 0x3f8
    mov al, 'p'
put:
    out dx, al
    mov al, 0x2a
done:
    out 0xf4, al
gdt:
    dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
gdt_desc:
    dw gdt_desc - gdt - 1
    dd gdt
"""


def exit_lines(tmp_path, accel, name, src):
    from emu.loader import load_file
    path = write(tmp_path, name, src)
    log = tmp_path / f"{accel}.log"
    r = emu("run", "-accel", accel, "-m", "1", "-serial", "none", "-d", "exits", "-D", str(log), path)
    assert r.returncode == 85, r.stderr.decode()
    return [ln for ln in log.read_text().splitlines() if ln.startswith("exit: ")], \
        load_file(path).symbols       # the labels' addresses, as the assembler placed them


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", "kvm"])
def test_exits_log_names_the_instruction_of_each_exit(tmp_path, accel):
    """Real mode: CS:IP of the OUT, IN, store and load that exited (CS is 0,
    so IP is the label's address); protected mode: the linear address."""
    if accel == "kvm" and not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm on this machine")
    lines, sym = exit_lines(tmp_path, accel, "real.S", EXITS_REAL)
    assert lines == [f"exit: IO out port 0x3f8 size 1 data 0x68 at 0000:{sym['put']:04x}",
                     f"exit: IO in port 0x3f8 size 1 at 0000:{sym['get']:04x}",
                     f"exit: MMIO write 0x100000 size 1 data 0x1 at 0000:{sym['poke']:04x}",
                     f"exit: MMIO read 0x100001 size 1 at 0000:{sym['peek']:04x}",
                     f"exit: IO out port 0xf4 size 1 data 0x2a at 0000:{sym['done']:04x}"]
    lines, sym = exit_lines(tmp_path, accel, "pm.S", EXITS_PROTECTED)
    assert lines == [f"exit: IO out port 0x3f8 size 1 data 0x70 at 0x{sym['put']:x}",
                     f"exit: IO out port 0xf4 size 1 data 0x2a at 0x{sym['done']:x}"]


# -- one error prefix, one line, no traceback ----------------------------------------------

@pytest.mark.parametrize("args, expect", [
    (("run", "/nonexistent/guest.bin"), "emu run: "),
    (("run", "-D", "/nonexistent/dir/log", "-d", "exits", "G"), "emu run: -D /nonexistent/dir/log: cannot open"),
    (("run", "-serial", "file:/nonexistent/dir/out", "G"), "emu run: -serial file:/nonexistent/dir/out: cannot open"),
    (("run", "-gdb", "tcp::99999", "G"), "emu run: -gdb 'tcp::99999': port 99999 is out of range"),
    (("run", "-gdb", "udp::1234", "G"), "emu run: -gdb 'udp::1234': expected tcp::PORT"),
    (("run", "-M", "isapc", "G"), "emu run: -M isapc: invalid choice: 'isapc'"),
    (("run", "-d", "exits,", "-d", "bogus", "G"), "emu run: -d bogus: unknown -d item 'bogus'"),
    (("run", "-icount", "shift=99", "G"), "emu run: argument -icount: 'shift=99': the shift must be"),
    (("run", "-icount", "shift=3", "-accel", "kvm", "G"), "emu run: "),
    (("debug", "-x", "/nonexistent/script", "G"), "emu debug: -x /nonexistent/script: cannot open"),
    (("debug",), "emu debug: expected a guest or --replay FILE (one of them)"),
    (("debug", "G", "--replay", "G"), "emu debug: expected a guest or --replay FILE (one of them)"),
    (("debug", "G", "-d", "exits"), "emu debug: unrecognized arguments: -d exits"),
    (("debug", "--history-size", "0", "G"), "emu debug: argument --history-size: '0' must be positive"),
    (("diff", "G", "--max-steps", "0"), "emu diff: argument --max-steps: '0' must be positive"),
    (("diff", "G", "-d", "exits"), "emu diff: unrecognized arguments: -d exits"),
    (("diff", "/nonexistent.S"), "emu diff: "),
    (("translate", "G", "-accel", "kvm"), "emu translate: unrecognized arguments: -accel kvm"),
    (("translate", "G", "--at", "nowhere"), "emu translate: --at nowhere: not an address or a label"),
    (("conformance", "/nonexistent"), "emu conformance: /nonexistent: not a directory"),
    (("conformance", "D", "--compare", "interp"), "emu conformance: --compare interp: expected two engines"),
    (("conformance", "D", "-cpu", "386"), "emu conformance: -cpu 386: invalid choice: '386'"),
    (("conformance", "D", "--limit", "x"), "emu conformance: argument --limit: 'x' is not a whole number"),
    (("coverage", "-cpu", "z80"), "emu coverage: -cpu z80: invalid choice"),
    (("coverage", "extra"), "emu coverage: unrecognized arguments: extra"),
    (("bench", "-accel", "interp,qemu"), "emu bench: unknown accelerator 'qemu'"),
    (("bench", "--guests", "nosuch"), "emu bench: unknown bench guest 'nosuch'"),
    (("demo", "--json"), "emu demo: unrecognized arguments: --json"),
    (("demo", "-accel", ","), "emu demo: -accel ',': no engine named"),
    (("bench", "-accel", ""), "emu bench: -accel '': no engine named"),
    (("run", "-serial", "file:", "G"), "emu run: -serial file: needs a path"),
    (("conformance", "D", "-accel", "tcg", "--compare", "interp,kvm"),
     "emu conformance: -accel tcg and --compare interp,kvm: --compare names the engines"),
    ((), "emu: no command given"),
    (("--bogus",), "emu: "),
])
def test_every_error_is_one_line_with_the_command_prefix(tmp_path, args, expect):
    guest = write(tmp_path, "g.S", "mov al, 0\nout 0xf4, al\n")
    args = [guest if a == "G" else str(tmp_path) if a == "D" else a for a in args]
    r = emu(*args)
    line = one_line_error(r)
    assert line.startswith(expect), line
    if r.returncode == 2:       # bad usage: where to read about it
        prog = " ".join(["emu"] + ([args[0]] if args and not args[0].startswith("-") else []))
        assert line.endswith(f"(see '{prog} --help')"), line
