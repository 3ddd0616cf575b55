"""The root of imref's exception tree.

Every error that imref raises on purpose derives from ``ImrefError``. A
subclass also derives from the builtin that fits (``ValueError`` for bad
arguments, ``TimeoutError`` for a peer that took too long), so callers can
catch either. Messages name the bad value with ``!r`` and say what to do, and
never contain a secret, a token or an expected signature.
"""


class ImrefError(Exception):
    """Base class of every error that imref raises on purpose."""
