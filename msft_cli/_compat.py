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
