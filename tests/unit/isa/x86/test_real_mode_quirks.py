"""Regression tests for 286 real-mode quirks found with the SingleStepTests
80286 vectors; each test is one vector copied from
``conformance/80286/v1_real_mode`` (file and idx in each test's docstring),
so the expected state is the hardware's, not kasou's."""

import json

import pytest

from emu.conformance import Runner


@pytest.fixture(scope="module")
def runner():
    r = Runner("286")
    yield r
    r.close()

VEC_07_52 = (
    '{"idx": 52, "name": "pop es", "bytes": [7, 244], "initial": {"regs": {"ax": 18551, "bx": '
    '32262, "cx": 65535, "dx": 39194, "cs": 42418, "ss": 7597, "ds": 1965, "es": 35683, "sp": '
    '65535, "bp": 59511, "si": 23117, "di": 45230, "ip": 54312, "flags": 58450}, "ram": '
    '[[733000, 7], [733001, 244], [733002, 255], [733003, 255], [733004, 255], [733005, 255], '
    '[733006, 255], [733007, 255], [52, 158], [53, 114], [54, 39], [55, 89], [394510, 244], '
    '[394511, 255], [394512, 244], [394513, 255], [394514, 244], [394515, 255]]}, "final": '
    '{"regs": {"cs": 22823, "sp": 65529, "ip": 29343, "flags": 1106}, "ram": [[187085, 82], '
    '[187086, 4], [187083, 178], [187084, 165], [187081, 40], [187082, 212]]}, "exception": '
    '{"number": 13, "flag_address": 187084}}'
)


def test_286_pop_at_sp_ffff_is_gp_not_ss(runner):
    """80286/v1_real_mode 07.json.gz idx 52: pop es"""
    assert runner.run_vector(json.loads(VEC_07_52), 0xFFFF) == ("pass", [])


VEC_81_0_5 = (
    '{"idx": 5, "name": "add word [si+1DDFh],7693h", "bytes": [46, 54, 46, 62, 62, 129, 132, '
    '223, 29, 147, 118, 244], "initial": {"regs": {"ax": 40393, "bx": 21679, "cx": 12314, '
    '"dx": 9461, "cs": 41335, "ss": 12253, "ds": 54506, "es": 7356, "sp": 65015, "bp": 65328, '
    '"si": 63014, "di": 56054, "ip": 46872, "flags": 40147}, "ram": [[708232, 46], [708233, '
    '54], [708234, 46], [708235, 62], [708236, 62], [708237, 129], [708238, 132], [708239, '
    '223], [708240, 29], [708241, 147], [708242, 118], [708243, 244], [708244, 233], [708245, '
    '173], [708246, 65], [708247, 166], [708248, 136], [708249, 86], [52, 89], [53, 160], '
    '[54, 156], [55, 19], [121369, 244], [121370, 244], [121371, 241], [121372, 244], '
    '[121373, 143]]}, "final": {"regs": {"cs": 5020, "sp": 65009, "ip": 41050, "flags": '
    '3283}, "ram": [[261061, 211], [261062, 12], [261059, 119], [261060, 161], [261057, 24], '
    '[261058, 183]]}, "exception": {"number": 13, "flag_address": 261060}}'
)


def test_286_instruction_longer_than_10_bytes_is_gp(runner):
    """80286/v1_real_mode 81.0.json.gz idx 5: add word [si+1DDFh],7693h"""
    assert runner.run_vector(json.loads(VEC_81_0_5), 0xFFFF) == ("pass", [])


VEC_8C_24 = (
    '{"idx": 24, "name": "mov [bx+di+519Bh],fs", "bytes": [140, 161, 155, 81, 244], '
    '"initial": {"regs": {"ax": 56245, "bx": 11858, "cx": 15954, "dx": 55840, "cs": 42415, '
    '"ss": 17661, "ds": 33083, "es": 27049, "sp": 56546, "bp": 21135, "si": 40085, "di": '
    '57086, "ip": 49112, "flags": 34899}, "ram": [[727752, 140], [727753, 161], [727754, '
    '155], [727755, 81], [727756, 244], [727757, 212], [727758, 83], [727759, 43], [727760, '
    '215], [727761, 76], [24, 29], [25, 251], [26, 135], [27, 250], [1090445, 244], [1090446, '
    '244], [1090447, 136], [1090448, 244], [1090449, 106]]}, "final": {"regs": {"cs": 64135, '
    '"sp": 56540, "ip": 64286, "flags": 2131}, "ram": [[339120, 83], [339121, 8], [339118, '
    '175], [339119, 165], [339116, 216], [339117, 191]]}, "exception": {"number": 6, '
    '"flag_address": 339120}}'
)


def test_286_mov_from_fs_is_ud(runner):
    """80286/v1_real_mode 8C.json.gz idx 24: mov [bx+di+519Bh],fs"""
    assert runner.run_vector(json.loads(VEC_8C_24), 0xFFFF) == ("pass", [])


VEC_2F_46 = (
    '{"idx": 46, "name": "das", "bytes": [47, 244], "initial": {"regs": {"ax": 0, "bx": '
    '43167, "cx": 63831, "dx": 64416, "cs": 14421, "ss": 13178, "ds": 19931, "es": 29677, '
    '"sp": 10148, "bp": 50792, "si": 816, "di": 64946, "ip": 58920, "flags": 8406}, "ram": '
    '[[289656, 47], [289657, 244], [289658, 70], [289659, 196], [289660, 14], [289661, 108], '
    '[289662, 0], [289663, 43]]}, "final": {"regs": {"ax": 250, "ip": 58922, "flags": 151}, '
    '"ram": []}}'
)


def test_286_das_keeps_the_low_borrow_in_cf(runner):
    """80286/v1_real_mode 2F.json.gz idx 46: das"""
    assert runner.run_vector(json.loads(VEC_2F_46), 0xFFFF) == ("pass", [])


VEC_A5_41 = (
    '{"idx": 41, "name": "movsw", "bytes": [165, 244], "initial": {"regs": {"ax": 14020, '
    '"bx": 52667, "cx": 46277, "dx": 3211, "cs": 33757, "ss": 65535, "ds": 26241, "es": '
    '29216, "sp": 61505, "bp": 23186, "si": 65535, "di": 65535, "ip": 10208, "flags": 19}, '
    '"ram": [[550320, 165], [550321, 244], [550322, 98], [550323, 91], [550324, 125], '
    '[550325, 237], [550326, 250], [550327, 8], [52, 234], [53, 86], [54, 213], [55, 214], '
    '[902202, 244], [902203, 101], [902204, 244], [902205, 142], [902206, 244], [902207, '
    '71]]}, "final": {"regs": {"cs": 54997, "sp": 61499, "si": 1, "ip": 22251}, "ram": '
    '[[1110063, 19], [1110064, 0], [1110061, 221], [1110062, 131], [1110059, 224], [1110060, '
    '39]]}, "exception": {"number": 13, "flag_address": 1110062}}'
)


def test_286_movsw_source_at_ffff_faults_after_advancing_si(runner):
    """80286/v1_real_mode A5.json.gz idx 41: movsw"""
    assert runner.run_vector(json.loads(VEC_A5_41), 0xFFFF) == ("pass", [])


VEC_A7_47 = (
    '{"idx": 47, "name": "cmpsw", "bytes": [46, 62, 167, 244], "initial": {"regs": {"ax": '
    '1564, "bx": 61054, "cx": 62846, "dx": 23509, "cs": 17761, "ss": 33828, "ds": 10055, '
    '"es": 51889, "sp": 53468, "bp": 9556, "si": 0, "di": 65535, "ip": 43008, "flags": '
    '45203}, "ram": [[327184, 46], [327185, 62], [327186, 167], [327187, 244], [327188, 235], '
    '[327189, 101], [327190, 86], [327191, 137], [327192, 103], [327193, 133], [52, 138], '
    '[53, 74], [54, 224], [55, 220], [923786, 244], [923787, 122], [923788, 244], [923789, '
    '187], [923790, 244], [923791, 49]]}, "final": {"regs": {"cs": 56544, "sp": 53462, "di": '
    '1, "ip": 19083, "flags": 147}, "ram": [[594714, 147], [594715, 0], [594712, 97], '
    '[594713, 69], [594710, 0], [594711, 168]]}, "exception": {"number": 13, "flag_address": '
    '594714}}'
)


def test_286_cmpsw_reads_es_di_first_and_faults_after_advancing_di(runner):
    """80286/v1_real_mode A7.json.gz idx 47: cmpsw"""
    assert runner.run_vector(json.loads(VEC_A7_47), 0xFFFF) == ("pass", [])
