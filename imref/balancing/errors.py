"""Errors raised by ``imref.balancing``.

Every error derives from ``BalancingError`` and also from the builtin that
fits, so a caller may catch ``ValueError`` or ``LookupError`` as usual.
"""

from imref.errors import ImrefError


class BalancingError(ImrefError):
    """Base class of every error raised by ``imref.balancing``."""


class EmptyPoolError(BalancingError, ValueError):
    """The pool would have no node left to pick from."""


class InvalidNodeError(BalancingError, ValueError):
    """A node name is not a non-empty ``str``."""


class DuplicateNodeError(BalancingError, ValueError):
    """A node name is given twice, or added while already in the pool."""


class UnknownNodeError(BalancingError, LookupError):
    """A node name is not in the pool."""


class InvalidWeightError(BalancingError, ValueError):
    """A weight is not a finite positive number, or not one the strategy takes."""


class WeightOutOfRangeError(InvalidWeightError):
    """A weight is outside the range ``MIN_WEIGHT`` to ``MAX_WEIGHT``."""


class WeightTooSmallError(InvalidWeightError):
    """A weight is so small that its node would get no point on the ring."""


class InvalidKeyError(BalancingError, TypeError):
    """A key is missing or of a type that the strategy cannot hash."""


class UnencodableKeyError(InvalidKeyError, ValueError):
    """A str key has no UTF-8 encoding, such as one with a lone surrogate."""


class InvalidOptionError(BalancingError, ValueError):
    """A constructor option such as ``vnodes`` or ``table_size`` is invalid."""


class UnsupportedOperationError(BalancingError, TypeError):
    """The algorithm cannot perform this operation, such as a weight change."""


class ReleaseError(BalancingError, ValueError):
    """``release`` was called for a node that has no open connection."""
