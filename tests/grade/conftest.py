"""A spec and a submission written into a test's folder, graded."""

import pytest

from emu.grade.runner import grade
from emu.grade.spec import load


@pytest.fixture
def assignment(tmp_path):
    """``assignment(spec_text, submission={name: text or bytes},
    instructor={name: text}, accel="interp")`` -> SubmissionResult."""
    def run(spec_text, submission, instructor=None, accel="interp"):
        for name, text in (instructor or {}).items():
            (tmp_path / name).write_text(text)
        (tmp_path / "spec.toml").write_text(spec_text)
        sub = tmp_path / "sub"
        sub.mkdir(exist_ok=True)
        for name, data in submission.items():
            if isinstance(data, bytes):
                (sub / name).write_bytes(data)
            else:
                (sub / name).write_text(data)
        return grade(load(str(tmp_path / "spec.toml")), str(sub), "sub", accel)
    return run
