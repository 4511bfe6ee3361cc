"""The conformance runner itself (emu/conformance.py), on small hand-made
vectors whose expected states are worked out from the manuals (8086 Family
User's Manual, iAPX 286 PRM), not from running kasou."""

import gzip
import json

import pytest

from emu import conformance as C
from emu.isa.x86 import singlestep as S
from emu.exits import InternalErrorExit

CS_, IP_ = 0x1000, 0x0100
LIN = (CS_ << 4) + IP_


def vec(code, regs=None, final=None, ram=(), final_ram=(), num=0):
    r = {"ax": 0, "bx": 0, "cx": 0, "dx": 0, "cs": CS_, "ss": 0x2000, "ds": 0x3000,
         "es": 0x4000, "sp": 0x0100, "bp": 0, "si": 0, "di": 0, "ip": IP_, "flags": 0xF002}
    r.update(regs or {})
    mem = [[LIN + k, b] for k, b in enumerate(code)] + [list(p) for p in ram]
    return {"name": "t", "bytes": list(code), "test_num": num,
            "initial": {"regs": r, "ram": mem},
            "final": {"regs": final or {}, "ram": [list(p) for p in final_ram]}}


@pytest.fixture(scope="module")
def r8086():
    r = C.Runner("8086")
    yield r
    r.close()


@pytest.fixture(scope="module")
def r286():
    r = C.Runner("286")
    yield r
    r.close()


def test_correct_vector_passes(r8086):
    # ADD AL, 1 with AL = 1: AL = 2, all arithmetic flags clear (2 has odd parity).
    v = vec([0x04, 0x01], {"ax": 0x0001}, {"ax": 0x0002, "ip": IP_ + 2, "flags": 0xF002})
    assert r8086.run_vector(v, 0xFFFF) == ("pass", [])


def test_wrong_expectation_fails_and_names_the_register(r8086):
    v = vec([0x04, 0x01], {"ax": 0x0001}, {"ax": 0x0003, "ip": IP_ + 2})
    verdict, diffs = r8086.run_vector(v, 0xFFFF)
    assert verdict == "fail"
    assert any(d.startswith("ax 0002 != 0003") for d in diffs)


def test_flags_compared_under_the_mask_only(r8086):
    # AND AL, 0: ZF PF set; AF is undefined (mask 0xFFEF), so a wrong AF still passes
    v = vec([0x24, 0x00], {"ax": 0x00FF}, {"ax": 0, "ip": IP_ + 2, "flags": 0xF002 | 0x44 | 0x10})
    assert r8086.run_vector(v, 0xFFEF)[0] == "pass"
    assert r8086.run_vector(v, 0xFFFF)[0] == "fail"


def test_memory_checked(r8086):
    # MOV [0x0010], AL with DS = 0x3000: writes 0x5A at 0x30010
    v = vec([0xA2, 0x10, 0x00], {"ax": 0x5A}, {"ip": IP_ + 3}, final_ram=[(0x30010, 0x5A)])
    assert r8086.run_vector(v, 0xFFFF)[0] == "pass"
    v = vec([0xA2, 0x10, 0x00], {"ax": 0x5A}, {"ip": IP_ + 3}, final_ram=[(0x30010, 0x5B)])
    verdict, diffs = r8086.run_vector(v, 0xFFFF)
    assert verdict == "fail" and "[30010] 5a != 5b" in diffs


def test_8086_rep_string_runs_to_completion(r8086):
    # REP STOSB, CX = 3, DF = 0: ES:DI..DI+2 = AL, DI += 3, CX = 0
    v = vec([0xF3, 0xAA], {"ax": 0x77, "cx": 3, "di": 0x10},
            {"cx": 0, "di": 0x13, "ip": IP_ + 2},
            final_ram=[(0x40010, 0x77), (0x40011, 0x77), (0x40012, 0x77)])
    assert r8086.run_vector(v, 0xFFFF) == ("pass", [])


def test_286_runs_to_the_hlt_and_in_reads_all_ones(r286):
    # IN AL, 0x10; HLT: AL = 0xFF, IP after the HLT; top FLAGS bits cleared on load
    v = vec([0xE4, 0x10, 0xF4], {"flags": 0xF002}, {"ax": 0x00FF, "ip": IP_ + 3, "flags": 0x0002})
    assert r286.run_vector(v, 0xFFFF) == ("pass", [])


def test_286_vector_that_never_halts_fails(r286):
    # JMP $ never reaches a HLT
    v = vec([0xEB, 0xFE], {}, {"ip": IP_})
    verdict, diffs = r286.run_vector(v, 0xFFFF)
    assert verdict == "fail" and diffs[0] == "no HLT reached"


def test_internal_error_exit_is_unsupported_not_failed(monkeypatch):
    runner = C.Runner("8086")
    try:
        monkeypatch.setattr(runner.accel, "run",
                            lambda budget: InternalErrorExit("EMULATION", "cannot"))
        verdict, diffs = runner.run_vector(vec([0x90], {}, {"ip": IP_ + 1}), 0xFFFF)
        assert verdict == "unsupported"
        assert "INTERNAL_ERROR" in diffs[0]
    finally:
        runner.close()


def test_group_opcode_mask_comes_from_the_reg_field():
    meta = {"80": {"reg": {"4": {"status": "normal", "flags-mask": 0xFFEF},
                           "0": {"status": "normal"}}}}
    entry, pos = S.opcode_info(meta, bytes([0x2E, 0x80, 0x27, 0x01]), S.PREFIXES_8086)
    assert (entry["flags-mask"], pos) == (0xFFEF, 1)
    entry, _ = S.opcode_info(meta, bytes([0x80, 0x07, 0x01]), S.PREFIXES_8086)
    assert "flags-mask" not in entry


def test_rep_string_detection():
    assert S.is_rep_string(bytes([0x26, 0xF3, 0xA4]), S.PREFIXES_8086)
    assert not S.is_rep_string(bytes([0xA4]), S.PREFIXES_8086)
    assert not S.is_rep_string(bytes([0xF3, 0x90]), S.PREFIXES_8086)


def test_run_dir_totals_skips_and_report(tmp_path):
    meta = {"opcodes": {"04": {"status": "normal"}, "C6": {"status": "undefined"}}}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    good = vec([0x04, 0x01], {"ax": 1}, {"ax": 2, "ip": IP_ + 2}, num=0)
    bad = vec([0x04, 0x01], {"ax": 1}, {"ax": 9, "ip": IP_ + 2}, num=1)
    with gzip.open(tmp_path / "04.json.gz", "wt") as f:
        json.dump([good, bad], f)
    with gzip.open(tmp_path / "C6.json.gz", "wt") as f:
        json.dump([vec([0xC6, 0xC8, 0x01], num=7)], f)
    r = C.run_dir(str(tmp_path), cpu="8086", skip_status=("undefined",))
    assert (r["total"], r["passed"], r["failed"], r["skipped"]) == (3, 1, 1, 1)
    assert r["files"]["04.json.gz"]["failed_ids"] == [1]
    assert r["files"]["04.json.gz"]["unsupported_ids"] == []
    assert r["files"]["C6.json.gz"]["skipped_ids"] == [7]
    text = C.format_report(r, verbose=True)
    assert "04.json.gz" in text and "failed: 1" in text
    assert "skipped 1 (metadata status 'undefined')" in text
    assert "total: 1/3 passed (50.00% of judged)" in text


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(C.VectorError, match="no such conformance directory"):
        C.run_dir(str(tmp_path / "nope"))


def test_vectors_run_through_the_machine_loop(r286):
    # IN AL, 0x10; OUT 0x10, AL; HLT on the device-less x86-none board: the
    # Machine serves (and counts) both accesses and the HLT, as in every run
    stats = r286.machine.stats
    before = dict(stats.by_reason)
    v = vec([0xE4, 0x10, 0xE6, 0x10, 0xF4], {"flags": 0xF002},
            {"ax": 0x00FF, "ip": IP_ + 5, "flags": 0x0002})
    assert r286.run_vector(v, 0xFFFF) == ("pass", [])
    assert stats.by_reason.get("IO", 0) - before.get("IO", 0) == 2
    assert stats.by_reason.get("HLT", 0) - before.get("HLT", 0) == 1
    assert r286.machine.board.__name__.endswith("x86_none")
