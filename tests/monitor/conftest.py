"""A test that fails mid-session must not leave its guest running."""

import pytest

from .helpers import READERS, STARTED


@pytest.fixture(autouse=True)
def end_started_processes():
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader = READERS.pop(proc.pid, None)
        if reader is not None:
            # the reader owns stdout until it has read the end: closing the
            # pipe under its readline() is an error in the reader's thread
            reader.join(timeout=30)
        proc.communicate()
