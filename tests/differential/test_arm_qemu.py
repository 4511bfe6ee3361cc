"""The ARM guests (tests/guests/arm) on real QEMU: ``qemu-system-arm -M virt
-cpu cortex-a15 -nographic -semihosting -kernel X``, a program nobody here
wrote, runs each, and its output and exit status must be what the Python
model of the guest's computation says (tests/differential/arm_guests.py).
This pins the guests and their models down; kasou's engines are judged by
the same models (``arm_guests.run_kasou``) once they run ARM."""

import pytest

from tests.differential import arm_guests as A


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return A.build(str(tmp_path_factory.mktemp("arm-guests")))


@pytest.mark.parametrize("guest", A.BENCH + ("hello",))
def test_guest_on_qemu_prints_what_its_model_says(built, guest):
    out, status = A.run_qemu(f"{built}/{guest}.elf")
    assert out == A.expected(guest, built), f"{guest}: got {out[:200]!r}"
    assert status == 0


def test_interrupt_driven_input_on_qemu(built):
    """irq_echo: PL011 receive interrupt -> GIC (ID 33) -> IRQ exception."""
    out, status = A.run_qemu(f"{built}/irq_echo.elf", A.ECHO_INPUT)
    assert out == A.expected("irq_echo", built) and status == 0


def test_the_c_program_reads_prints_and_returns_its_status_on_qemu(built):
    out, status = A.run_qemu(f"{built}/calc.elf", A.calc_input(), console_input=True)
    want, want_status = A.expected_calc(A.CALC_NAME, A.CALC_NUMBERS)
    assert out == want
    assert status == want_status == 254


def test_the_c_program_without_input_returns_its_error_status(built):
    out, status = A.run_qemu(f"{built}/calc.elf", b"", console_input=True)
    assert out == b"name? " and status == 2


def test_the_guests_are_arm_elf_files_linked_into_virt_ram(built):
    """What the virt board loads: EM_ARM executables whose segments lie in
    RAM from 0x40010000, entered at _start (its lowest address)."""
    from elftools.elf.elffile import ELFFile
    for guest in A.BENCH + ("hello", "calc"):
        with open(f"{built}/{guest}.elf", "rb") as f:
            elf = ELFFile(f)
            assert elf["e_machine"] == "EM_ARM" and elf["e_type"] == "ET_EXEC"
            loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            assert min(s["p_paddr"] for s in loads) == A.LOAD, guest
            assert all(0x40000000 <= s["p_paddr"] < 0x48000000 for s in loads), guest
            if guest != "calc":
                assert elf["e_entry"] == A.LOAD, guest


def test_device_registers_read_as_on_qemu(built):
    """devregs.S reads PL011 and GIC registers after reset on QEMU; kasou's
    device models, wired by the virt board, must read the same words after
    the same accesses (each address and value is printed, 9 bytes to the
    PL011 data register each, before the next read)."""
    from tests.boards.standin import StandInMachine
    out, status = A.run_qemu(f"{built}/devregs.elf")
    assert status == 0
    lines = out.decode().split()
    pairs = [(int(a, 16), int(v, 16)) for a, v in zip(lines[::2], lines[1::2])]
    assert len(pairs) == 41
    m = StandInMachine()

    def print_line():
        for _ in range(9):
            m.mmio.write(0x09000000, 1, 0x30)

    got = []
    for addr, _ in pairs:
        print_line()
        got.append((addr, m.mmio.read(addr, 4)))
        print_line()
    assert got == pairs


def script_of(elf_path):
    """devscript.S's accesses, read from its ``script`` symbol with pyelftools."""
    from elftools.elf.elffile import ELFFile
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        at = elf.get_section_by_name(".symtab").get_symbol_by_name("script")[0]["st_value"]
        text = elf.get_section_by_name(".text")
        data = text.data()[at - text["sh_addr"]:]
    words = [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]
    out = []
    for i in range(0, len(words), 3):
        if words[i] == 0xFFFFFFFF:
            return out
        out.append(tuple(words[i:i + 3]))
    raise AssertionError("devscript: no end of script")


def test_device_register_script_behaves_as_on_qemu(built):
    """devscript.S performs reads and writes on the PL011 and the GIC (a
    transmitted byte's interrupt, ICR, IMSC/MIS, FIFO flags, register
    widths, a pending SPI acknowledged and ended, the priority mask,
    clear-enable and clear-pending, configuration bits); kasou's models,
    wired by the virt board, must return the same values and print the same
    bytes."""
    from tests.boards.standin import StandInMachine
    out, status = A.run_qemu(f"{built}/devscript.elf")
    assert status == 0
    m = StandInMachine()
    reads = []
    for op, addr, value in script_of(f"{built}/devscript.elf"):
        if op == 0:
            reads.append(m.mmio.read(addr, 4))
        else:
            m.mmio.write(addr, 4 if op == 1 else 1, value)
    assert out == bytes(m.shown) + b"".join(b"%08X\n" % v for v in reads)


@pytest.mark.parametrize("mib", [128, 64])
def test_heapinfo_as_on_qemu(built, mib):
    """SYS_HEAPINFO: QEMU's answer for the image and RAM size, and kasou's
    semihosting service after the virt board loaded the same image."""
    from emu.boards import virt
    from emu.devices import semihosting as S
    from tests.boards.standin import StandInMachine
    elf = f"{built}/heapinfo.elf"
    out, status = A.run_qemu(elf, extra=("-m", str(mib)))
    assert status == 0
    m = StandInMachine(semihosting=True, ram_size=mib << 20)
    virt.load(m, A.flat_image(elf), "heapinfo", base=A.LOAD)
    m.ram.load(0x40001000, (0x40002000).to_bytes(4, "little"))
    assert m.semihosting.call(S.SYS_HEAPINFO, 0x40001000) == 0
    words = [int.from_bytes(m.ram.read_bytes(0x40002000 + 4 * i, 4), "little") for i in range(4)]
    assert out == b"".join(b"%08X\n" % w for w in words)


# -- the same guests on kasou's engines, judged by the same models --------------------------
ENGINES = ("interp", "tcg", "unicorn")


@pytest.mark.parametrize("accel", ENGINES)
@pytest.mark.parametrize("guest", A.BENCH + ("hello",))
def test_guest_on_kasou_prints_what_its_model_says(built, guest, accel):
    out, status, r = A.run_kasou(f"{built}/{guest}.elf", accel)
    assert out == A.expected(guest, built), f"{guest}: got {out[:200]!r} ({r.message})"
    assert (status, r.reason) == (0, "debug-exit"), r.message


@pytest.mark.parametrize("accel", ENGINES)
def test_interrupt_driven_input_on_kasou(built, accel):
    """PL011 receive interrupt -> GIC (ID 33) -> the IRQ exception, on kasou."""
    out, status, r = A.run_kasou(f"{built}/irq_echo.elf", accel, A.ECHO_INPUT)
    assert out == A.expected("irq_echo", built) and status == 0, (out, r.message)


@pytest.mark.parametrize("accel", ENGINES)
def test_the_c_program_on_kasou(built, accel):
    """newlib's printf and scanf through semihosting, and the exit status."""
    out, status, r = A.run_kasou(f"{built}/calc.elf", accel, A.calc_input())
    want, want_status = A.expected_calc(A.CALC_NAME, A.CALC_NUMBERS)
    assert out == want
    assert status == want_status == 254


def test_emu_diff_runs_an_arm_guest_in_lockstep(built):
    """``emu diff -M virt -semihosting`` compares interp and unicorn on an
    ARM guest, step by step, to the guest's exit through semihosting."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "emu", "diff", "-M", "virt", "-semihosting",
                        "-accel", "interp,unicorn", f"{built}/hello.elf"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("no divergence: interp and unicorn agree on all 10 steps; both "
                               "ended with debug-exit (status 0: semihosting: "), r.stdout


def test_interrupt_driven_input_in_lockstep(built):
    """irq_echo on interp and unicorn, step by step: each IRQ is taken at
    the same instruction (before the one after CPSIE, not at the end of the
    step that unmasked it), the handler's GIC and PL011 accesses alike."""
    from emu.diff import run_diff
    from emu.loader import load_guest
    img = load_guest(f"{built}/irq_echo.elf", board="virt")
    r = run_diff(img.data, accels=("interp", "unicorn"), board="virt", semihosting=True,
                 serial_input=A.ECHO_INPUT, entry=img.entry, base=img.base, max_steps=100_000)
    assert not r.diverged and r.reason == "ended", r.report_text
    assert r.end == (("debug-exit", 0), ("debug-exit", 0))


@pytest.mark.slow
@pytest.mark.parametrize("guest", A.BENCH + ("hello", "calc"))
def test_every_guest_in_lockstep(built, guest):
    """The first 20,000 instructions of every ARM guest (the C program with
    its input), interp against unicorn, step by step."""
    from emu.diff import run_diff
    from emu.loader import load_guest
    img = load_guest(f"{built}/{guest}.elf", board="virt")
    r = run_diff(img.data, accels=("interp", "unicorn"), board="virt", semihosting=True,
                 serial_input=A.calc_input() if guest == "calc" else None, entry=img.entry,
                 base=img.base, max_steps=20_000)
    assert not r.diverged, r.report_text


@pytest.mark.parametrize("accel, why", [
    ("kvm", "emu run: -accel kvm runs only guests of the host's own architecture: KVM executes "
            "them on the host CPU, and arm code does not run on an x86 host; arm guests run on "
            "-accel interp, tcg, unicorn"),
])
def test_engines_that_cannot_run_arm_say_so(built, accel, why):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "emu", "run", "-M", "virt", "-semihosting", "-accel",
                        accel, f"{built}/hello.elf"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr == why + "\n"


# -- unicorn's free runs and bare unicorn on the same guests -----------------------------------
def run_unicorn(elf, count, stdin=b"", icount_limit=None, breakpoint=None):
    """``elf`` on the unicorn engine (``count``: free or exact) with no
    instruction limit unless asked: (output, status, reason, exits by key
    and by reason, the engine's counters, the Machine)."""
    from emu.loader import load_guest
    from emu.machine import Machine
    img = load_guest(elf, board="virt")
    m = Machine(board="virt", accel="unicorn", semihosting=True, serial_input=stdin,
                accel_options={"count": count})
    m.load_image(img.data, img.name, img.entry, img.base)
    if breakpoint is not None:
        m.accel.breakpoints.add(breakpoint)
    r = m.run(icount_limit=icount_limit)
    return (m.serial_output(), r.status, r.reason, dict(m.stats.by_key), dict(m.stats.by_reason),
            m.accel.stats(), m)


GUEST_INPUT = {"irq_echo": A.ECHO_INPUT, "calc": A.calc_input()}


@pytest.mark.parametrize("guest", A.BENCH + ("hello", "irq_echo", "calc"))
def test_free_unicorn_runs_arm_guests_as_counting_unicorn(built, guest):
    """Without a limit, breakpoints or steps the unicorn engine runs Arm
    guests free (no block hook: no block entered in Python) and they print
    what their model says, with the same status and the same exits, device
    by device, as when it counts every instruction."""
    stdin = GUEST_INPUT.get(guest, b"")
    free = run_unicorn(f"{built}/{guest}.elf", "free", stdin)
    exact = run_unicorn(f"{built}/{guest}.elf", "exact", stdin)
    for run in (free, exact):
        run[-1].close()
    want = A.expected_calc(A.CALC_NAME, A.CALC_NUMBERS)[0] if guest == "calc" \
        else A.expected(guest, built)
    assert free[0] == want
    assert free[:5] == exact[:5]
    assert free[5]["count"] == "free" and free[5]["free runs"] >= 1
    assert exact[5]["count"] == "exact" and exact[5]["free runs"] == 0
    if guest != "irq_echo":         # (an interrupt line up makes the engine count)
        assert free[5]["blocks entered"] == 0


def test_an_instruction_limit_on_free_unicorn_is_exact_on_arm(built):
    """-icount-limit needs exact counts: a free unicorn engine counts for
    it, and stops where the interpreter stops, registers alike."""
    from emu.loader import load_guest
    from emu.machine import Machine
    elf = f"{built}/intloop.elf"
    *_, stats, m = run_unicorn(elf, "free", icount_limit=10_001)
    img = load_guest(elf, board="virt")
    ref = Machine(board="virt", accel="interp", semihosting=True)
    ref.load_image(img.data, img.name, img.entry, img.base)
    rr = ref.run(icount_limit=10_001)
    m.accel.sync_state()
    assert (rr.reason, m.accel.icount) == ("limit", ref.accel.icount)
    assert stats["blocks entered"] > 0
    assert (m.cpu.r[:], m.cpu.pc, m.cpu.cpsr) == (ref.cpu.r[:], ref.cpu.pc, ref.cpu.cpsr)
    m.close()
    ref.close()


def test_a_breakpoint_on_free_unicorn_stops_there_on_arm(built):
    """A breakpoint needs exact stops: on the loop's first instruction
    (``again``, the guest's fifth word) the free engine stops before it."""
    at = A.LOAD + 4 * 4
    out, status, reason, *_, m = run_unicorn(f"{built}/intloop.elf", "free", breakpoint=at)
    assert (reason, m.accel.pc()) == ("debug", at)
    m.close()


@pytest.mark.parametrize("guest", A.BENCH)
def test_bare_unicorn_runs_arm_guests_as_qemu(built, guest):
    """``emu bench``'s Arm unicorn-bare (unicorn with only the PL011, the
    semihosting exit and SVC entry): the model's output and status 0."""
    from emu.isa import get_target
    b = get_target("arm").unicorn_bare(A.flat_image(f"{built}/{guest}.elf"), 16 << 20)
    assert (b.output, b.status, b.how) == (A.expected(guest, built), 0, "debug-exit")
