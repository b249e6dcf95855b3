"""``tests.helpers.counting_calls``: counts the calls of a module's function inside a block and puts it back."""

from __future__ import annotations

import types

import pytest

from tests.helpers import counting_calls


def _module() -> types.ModuleType:
    module = types.ModuleType("counted_module")
    module.double = lambda x: 2 * x
    module.twice = lambda x: module.double(module.double(x))  # looks ``double`` up at call time, as the code does
    return module


def test_counts_the_calls_made_inside_the_block_and_puts_the_function_back():
    module = _module()
    real = module.double
    with counting_calls(module, "double") as first:
        assert module.twice(3) == 12
    assert first.calls == 2
    assert module.double is real
    module.twice(1)  # outside the block: not counted
    with counting_calls(module, "double") as second:  # a second replay counts on its own
        module.double(1)
    assert (first.calls, second.calls) == (2, 1)


def test_puts_the_function_back_when_the_block_fails():
    module = _module()
    real = module.double
    with pytest.raises(ZeroDivisionError), counting_calls(module, "double") as count:
        module.double(1)
        _ = 1 / 0
    assert count.calls == 1
    assert module.double is real
