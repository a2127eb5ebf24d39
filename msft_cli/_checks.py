"""Parameter checks with one rule for ``TypeError`` versus ``ParameterError``.

The rule, for every parameter of msft's functions and classes:

- a value of the wrong type raises ``TypeError`` naming the parameter and
  the type given: ``"threads must be an int, not float"``. An integer
  parameter takes Python and numpy integers, never ``bool`` (``True`` is no
  count) nor floats (``2.0`` is not silently truncated) nor strings; a real
  parameter takes Python and numpy integers and floats, never ``bool``;
- a value of the right type that breaks the parameter's rule raises
  :class:`~msft_cli.errors.ParameterError` (a ``ValueError``) naming the
  parameter, the value and the rule: ``"threads=0 must be at least 1"``;
- a parameter that takes one of a few names (:func:`choice`) raises
  ``ParameterError`` for any other value, whatever its type, listing the
  names: ``"mode='x' is unknown: must be one of zero, periodic"``.

These functions import nothing heavy (not numpy): numpy's scalar types are
registered with :mod:`numbers`.
"""

import math
import numbers

from msft_cli.errors import ParameterError


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _range_rule(minimum, maximum, unit):
    unit = f" {unit}" if unit else ""
    if minimum is not None and maximum is not None:
        return f"between {minimum} and {maximum}{unit}"
    if minimum is not None:
        return f"at least {minimum}{unit}"
    return f"at most {maximum}{unit}"


def integer(name, value, minimum=None, maximum=None, *, unit="", rule=None):
    """Check an integer parameter; return it as a Python ``int``.

    Parameters
    ----------
    name : str
        The parameter's name, as the caller spells it.
    value : object
    minimum, maximum : int, optional
        Bounds, both included.
    unit : str
        Said after the bounds in the message (``"pixel"``: "at least 1 pixel").
    rule : str, optional
        What the message says the value must be, instead of the bounds
        (``"a positive integer"``).

    Raises
    ------
    TypeError
        ``value`` is not an integer (``"<name> must be an int, not <type>"``).
    ParameterError
        ``value`` is out of bounds (``"<name>=<value> must be <rule>"``).

    Examples
    --------
    >>> integer("threads", 4, minimum=1)
    4
    >>> integer("threads", 0, minimum=1)
    Traceback (most recent call last):
    msft_cli.errors.ParameterError: threads=0 must be at least 1
    """
    if not _is_integer(value):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ParameterError(f"{name}={value} must be "
                             f"{rule or _range_rule(minimum, maximum, unit)}")
    return value


def positive(name, value, *, rule="a positive integer"):
    """:func:`integer` of at least 1 (``"<name>=0 must be a positive integer"``)."""
    return integer(name, value, minimum=1, rule=rule)


def non_negative(name, value, *, rule="a non-negative integer"):
    """:func:`integer` of at least 0 (``"<name>=-1 must be a non-negative integer"``)."""
    return integer(name, value, minimum=0, rule=rule)


def real(name, value, minimum=None, maximum=None, *, above=None, rule=None):
    """Check a finite real parameter; return it as a Python ``float``.

    Parameters
    ----------
    name : str
    value : object
    minimum, maximum : float, optional
        Bounds, both included.
    above : float, optional
        An excluded lower bound (``above=0``: positive).
    rule : str, optional
        What the message says the value must be (default: ``"a finite
        number"``, ``"a positive finite number"`` for ``above=0``, or the
        bounds).

    Raises
    ------
    TypeError
        ``value`` is not a real number (``"<name> must be a number, not <type>"``).
    ParameterError
        ``value`` is NaN, infinite or out of bounds (``"<name>=<value> must
        be <rule>"``, the value as given, numpy scalars as floats).

    Examples
    --------
    >>> real("lr", -1.0, above=0)
    Traceback (most recent call last):
    msft_cli.errors.ParameterError: lr=-1.0 must be a positive finite number
    """
    if not _is_real(value):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    shown = value if type(value) in (int, float) else float(value)  # numpy scalars as floats
    value = float(value)
    if not (math.isfinite(value)
            and (above is None or value > above)
            and (minimum is None or value >= minimum)
            and (maximum is None or value <= maximum)):
        if rule is None:
            rule = "a positive finite number" if above == 0 else "a finite number"
            if above not in (None, 0):
                rule += f" above {above:g}"
            if minimum is not None or maximum is not None:
                rule += " " + _range_rule(minimum, maximum, "")
        raise ParameterError(f"{name}={shown!r} must be {rule}")
    return value


def choice(name, value, choices, *, more=""):
    """Check that a parameter is one of ``choices``; return it.

    Parameters
    ----------
    name : str
    value : object
    choices : sequence of str
    more : str
        Said after the list (``" or a channel index"``).

    Raises
    ------
    ParameterError
        ``"<name>=<value!r> is unknown: must be one of <a>, <b>, <c><more>"``,
        for any value not among ``choices``, whatever its type.
    """
    try:
        known = value in choices
    except (TypeError, ValueError):  # unhashable, or an array
        known = False
    if not known or isinstance(value, bool):
        raise unknown(name, value, choices, more=more)
    return value


def unknown(name, value, choices, *, more=""):
    """The :class:`ParameterError` of :func:`choice`, for callers that take more than names.

    >>> raise unknown("init", 3, ("random", "zero"), more=" or Coefficients")
    Traceback (most recent call last):
    msft_cli.errors.ParameterError: init=3 is unknown: must be one of random, zero or Coefficients
    """
    return ParameterError(f"{name}={value!r} is unknown: must be one of "
                          f"{', '.join(map(str, choices))}{more}")
