"""Property tests are deterministic: the profile tests/conftest.py loads
derandomizes hypothesis (no database either), and no test turns that off."""

import ast
import os

from hypothesis import settings

TESTS = os.path.dirname(os.path.abspath(__file__))


def test_the_loaded_profile_is_derandomized():
    assert settings().derandomize is True
    assert settings().database is None


def test_no_property_test_asks_for_random_examples():
    for dirpath, _, files in os.walk(TESTS):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(dirpath, f)
            for node in ast.walk(ast.parse(open(path).read(), path)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "settings":
                    for kw in node.keywords:
                        if kw.arg == "derandomize":
                            assert isinstance(kw.value, ast.Constant) and kw.value.value is True, \
                                f"{path}:{node.lineno}: derandomize must stay True"
