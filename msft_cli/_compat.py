"""Old names kept working for one release, with a DeprecationWarning."""

import functools
import warnings


def renamed_keyword(old, new, since):
    """Let a function still take keyword ``old``, now called ``new``, with a warning.

    Parameters
    ----------
    old, new : str
        The keyword's former and present names.
    since : str
        The msft version that renamed it; the old name goes in the next one.
    """
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{func.__name__}() got both {old}= and {new}=: "
                                    f"give {new}= only")
                warnings.warn(f"{func.__name__}({old}=...) is deprecated since msft {since}: "
                              f"use {new}=", DeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return wrapper
    return decorate


def moved_module(old, *new, since="0.2.0"):
    """A module ``__getattr__`` for a module that moved: each name is looked up in the
    ``new`` modules (in order), with a DeprecationWarning naming where it is now."""
    def __getattr__(name):
        import importlib
        for target in new:
            module = importlib.import_module(target)
            if hasattr(module, name):
                warnings.warn(f"{old} is deprecated since msft {since}: import {name} from "
                              f"{target}", DeprecationWarning, stacklevel=2)
                return getattr(module, name)
        raise AttributeError(f"module {old!r} has no attribute {name!r}")
    return __getattr__
