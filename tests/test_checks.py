"""The parameter checks and their one rule: TypeError for types, ParameterError for values."""

import numpy as np
import pytest

from msft_cli._checks import choice, integer, non_negative, positive, real, unknown
from msft_cli.errors import ParameterError


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integer_takes_python_and_numpy_integers(value):
    got = integer("n", value, minimum=1, maximum=3)
    assert got == 3 and type(got) is int


@pytest.mark.parametrize("value, type_name", [
    (3.0, "float"), (True, "bool"), ("3", "str"), (None, "NoneType"), (np.float32(3), "float32"),
])
def test_integer_refuses_other_types_with_a_type_error(value, type_name):
    with pytest.raises(TypeError) as info:
        integer("n", value)
    assert str(info.value) == f"n must be an int, not {type_name}"


@pytest.mark.parametrize("call, message", [
    (lambda: integer("threads", 0, minimum=1), "threads=0 must be at least 1"),
    (lambda: integer("n", 9, maximum=8), "n=9 must be at most 8"),
    (lambda: integer("n", np.int64(9), 1, 8), "n=9 must be between 1 and 8"),
    (lambda: integer("width", 0, minimum=1, unit="pixel"), "width=0 must be at least 1 pixel"),
    (lambda: positive("n", 0), "n=0 must be a positive integer"),
    (lambda: non_negative("seed", -1), "seed=-1 must be a non-negative integer"),
    (lambda: real("lr", -1.0, above=0), "lr=-1.0 must be a positive finite number"),
    (lambda: real("lr", np.float32(0), above=0), "lr=0.0 must be a positive finite number"),
    (lambda: real("tol", float("inf")), "tol=inf must be a finite number"),
    (lambda: real("x", 2, maximum=1), "x=2 must be a finite number at most 1"),
    (lambda: choice("mode", "x", ("zero", "periodic")),
     "mode='x' is unknown: must be one of zero, periodic"),
    (lambda: choice("mode", None, ("zero", "periodic")),
     "mode=None is unknown: must be one of zero, periodic"),
    (lambda: choice("mode", ["zero"], ("zero",)), "mode=['zero'] is unknown: must be one of zero"),
])
def test_values_out_of_rule_raise_parameter_errors(call, message):
    with pytest.raises(ParameterError) as info:
        call()
    assert str(info.value) == message


def test_real_refuses_non_numbers():
    for value, type_name in ((True, "bool"), ("1", "str"), (None, "NoneType")):
        with pytest.raises(TypeError, match=f"^x must be a number, not {type_name}$"):
            real("x", value)
    assert real("x", np.float32(0.5)) == 0.5 and type(real("x", 1)) is float


def test_choice_returns_the_value_and_unknown_builds_the_error():
    assert choice("mode", "zero", ("zero", "periodic")) == "zero"
    err = unknown("init", 3, ("random", "zero"), more=" or complex Coefficients")
    assert isinstance(err, ParameterError)
    assert str(err) == "init=3 is unknown: must be one of random, zero or complex Coefficients"
