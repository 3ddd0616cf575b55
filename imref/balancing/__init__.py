"""Load balancing across IM gateways: which gateway a user's connection lands on.

Every strategy is built as ``cls(nodes, *, seed=None, **options)`` where
``nodes`` is a list of names or a name-to-weight mapping, and offers
``pick(key=None)``, ``add``, ``remove``, ``set_weight`` and ``nodes``. The
load-aware strategies also offer ``release(node)``. ``STRATEGIES`` maps a
name to each class.
"""

from imref.balancing.base import MAX_WEIGHT, MIN_WEIGHT, Balancer, LoadAware
from imref.balancing.bounded import BoundedLoadRing
from imref.balancing.errors import (
    BalancingError,
    DuplicateNodeError,
    EmptyPoolError,
    InvalidKeyError,
    InvalidNodeError,
    InvalidOptionError,
    InvalidWeightError,
    ReleaseError,
    UnencodableKeyError,
    UnknownNodeError,
    UnsupportedOperationError,
    WeightOutOfRangeError,
    WeightTooSmallError,
)
from imref.balancing.jump import JumpHash, jump_hash
from imref.balancing.ketama import KetamaRing
from imref.balancing.maglev import Maglev
from imref.balancing.rendezvous import RendezvousHash
from imref.balancing.ring import HashRing
from imref.balancing.simple import (
    LeastConnectionsBalancer,
    PowerOfTwoBalancer,
    RandomBalancer,
    RoundRobinBalancer,
    SmoothWeightedRoundRobinBalancer,
)

#: Strategy name -> class, so callers can select a strategy by name.
STRATEGIES: dict[str, type[Balancer]] = {
    cls.name: cls
    for cls in (
        RandomBalancer,
        RoundRobinBalancer,
        SmoothWeightedRoundRobinBalancer,
        LeastConnectionsBalancer,
        PowerOfTwoBalancer,
        HashRing,
        KetamaRing,
        JumpHash,
        RendezvousHash,
        Maglev,
        BoundedLoadRing,
    )
}

__all__ = [
    "MAX_WEIGHT",
    "MIN_WEIGHT",
    "STRATEGIES",
    "Balancer",
    "BalancingError",
    "BoundedLoadRing",
    "DuplicateNodeError",
    "EmptyPoolError",
    "HashRing",
    "InvalidKeyError",
    "InvalidNodeError",
    "InvalidOptionError",
    "InvalidWeightError",
    "JumpHash",
    "KetamaRing",
    "LeastConnectionsBalancer",
    "LoadAware",
    "Maglev",
    "PowerOfTwoBalancer",
    "RandomBalancer",
    "ReleaseError",
    "RendezvousHash",
    "RoundRobinBalancer",
    "SmoothWeightedRoundRobinBalancer",
    "UnencodableKeyError",
    "UnknownNodeError",
    "UnsupportedOperationError",
    "WeightOutOfRangeError",
    "WeightTooSmallError",
    "jump_hash",
]
