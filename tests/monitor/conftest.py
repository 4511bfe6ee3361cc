"""A test that fails mid-session must not leave its guest running."""

import pytest

from .helpers import STARTED


@pytest.fixture(autouse=True)
def end_started_processes():
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
