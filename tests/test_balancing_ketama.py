"""KetamaRing against libketama's own output and the real uhashring 2.5."""

import json
from pathlib import Path

import pytest
from uhashring import HashRing as UHashRing

from imref.balancing import InvalidOptionError, InvalidWeightError, KetamaRing
from imref.balancing.errors import WeightTooSmallError
from imref.balancing.ketama import libketama_hash_count, uhashring_hash_count

# Generated once from libketama (PyPI package ketama 0.1.1) by
# tests/data/generate_ketama_vectors.py; see tests/data/README.md.
VECTORS = json.loads(
    (Path(__file__).parent / "data" / "ketama_vectors.json").read_text("utf-8")
)
CASES = {case["name"]: case for case in VECTORS["cases"]}
EXTRA_KEYS = [f"session:{i}" for i in range(3000)] + ["", "用户:1", "é"]


def servers(case):
    return dict(case["servers"])


def uhashring_points(ring):
    """Return uhashring's points once per position, as its lookup uses them."""
    return sorted(set(ring.get_points()))


@pytest.mark.parametrize("name", sorted(set(CASES) - {"zero_points"}))
def test_libketama_points_match(name):
    case = CASES[name]
    ring = KetamaRing(servers(case))
    assert [list(point) for point in ring.points()] == case["points"]


@pytest.mark.parametrize("name", sorted(set(CASES) - {"zero_points"}))
def test_libketama_lookups_match(name):
    case = CASES[name]
    ring = KetamaRing(servers(case))
    for key, point, server in case["lookups"]:
        assert ring.pick_point(key) == (point, server), key
        assert ring.pick(key) == server, key


def test_libketama_single_precision_counts():
    # 61 equal servers: libketama gives 39 hashes (156 points) each, not 40.
    case = CASES["sixty_one_equal"]
    owners = [server for _, server in case["points"]]
    assert {owners.count(server) for server, _ in case["servers"]} == {156}
    assert libketama_hash_count(1, 61, 61) == 39
    assert uhashring_hash_count(1, 61, 61) == 40
    # gw-7 of single_precision: exact share 250 hashes, libketama 249.
    owners = [server for _, server in CASES["single_precision"]["points"]]
    assert owners.count("gw-7") == 249 * 4


def test_zero_points_raise_instead():
    case = CASES["zero_points"]
    # libketama silently leaves gw-2 off the continuum ...
    assert "gw-2" not in {server for _, server in case["points"]}
    # ... where imref names the node and its weight.
    with pytest.raises(WeightTooSmallError, match="'gw-2'"):
        KetamaRing(servers(case))


def test_shared_point_goes_to_listed_first():
    for name, first in [
        ("shared_point_546_first", "node-546"),
        ("shared_point_699_first", "node-699"),
    ]:
        ring = KetamaRing(servers(CASES[name]))
        assert ring.pick_point("node-546-28") == (1410088479, first)
        assert ring.pick_point("node-699-28") == (1410088479, first)


def test_exact_hit_takes_that_point():
    # md5("gw-1-0")'s first word is gw-1's first point.
    ring = KetamaRing(servers(CASES["ten_equal"]))
    point, server = ring.pick_point("gw-1-0")
    assert server == "gw-1"
    assert point == ring.hash_key("gw-1-0")


@pytest.mark.parametrize("name", sorted(CASES))
def test_uhashring_mode_matches_uhashring(name):
    case = CASES[name]
    peer = UHashRing(servers(case), hash_fn="ketama")
    ring = KetamaRing(servers(case), compat="uhashring")
    owned = list(zip(ring._snapshot.positions, ring._snapshot.owners, strict=True))
    assert owned == uhashring_points(peer)
    for key in [key for key, _, _ in case["lookups"]] + EXTRA_KEYS:
        assert ring.pick(key) == peer.get_node(key), key


def test_uhashring_mode_follows_added_nodes():
    peer = UHashRing(["a", "b"], hash_fn="ketama")
    ring = KetamaRing(["a", "b"], compat="uhashring")
    peer.add_node("c", {"weight": 3})
    ring.add("c", 3)
    peer.remove_node("a")
    ring.remove("a")
    for key in EXTRA_KEYS:
        assert ring.pick(key) == peer.get_node(key), key


def test_uhashring_exact_hit_takes_next_point():
    case = CASES["ten_equal"]
    peer = UHashRing(servers(case), hash_fn="ketama")
    libketama = KetamaRing(servers(case))
    uhashring = KetamaRing(servers(case), compat="uhashring")
    point, server = libketama.pick_point("gw-1-0")
    next_point, next_server = uhashring.pick_point("gw-1-0")
    assert server == "gw-1"
    assert next_point > point
    assert peer.get_server("gw-1-0") == (next_point, next_server)


def test_uhashring_shared_point_goes_to_added_last():
    listed = {"node-546": 1, "node-699": 1}
    peer = UHashRing(listed, hash_fn="ketama")
    ring = KetamaRing(listed, compat="uhashring")
    assert peer.ring[1410088479] == "node-699"
    owners = dict(zip(ring._snapshot.positions, ring._snapshot.owners, strict=True))
    assert owners[1410088479] == "node-699"
    # KetamaRing's libketama mode gives the same point to the node listed first.
    assert KetamaRing(listed).pick_point("node-699-28") == (1410088479, "node-546")


def test_bytes_key_matches_str_key_in_both_modes():
    for compat in ("libketama", "uhashring"):
        ring = KetamaRing(servers(CASES["unequal"]), compat=compat)
        for i in range(500):
            key = f"用户:{i}"
            assert ring.pick(key.encode()) == ring.pick(key)
    # uhashring itself hashes a bytes key as its repr, "b'user:1'".
    peer = UHashRing(["a", "b"], hash_fn="ketama")
    assert peer.hashi(b"user:1") == peer.hashi("b'user:1'")
    assert peer.hashi(b"user:1") != peer.hashi("user:1")


def test_uhashring_mode_takes_whole_weights_only():
    with pytest.raises(InvalidWeightError, match="1.5"):
        KetamaRing({"a": 1.5, "b": 1}, compat="uhashring")
    assert KetamaRing({"a": 1.5, "b": 1}).nodes == ("a", "b")


def test_unknown_compat_raises():
    with pytest.raises(InvalidOptionError, match="'memcached'"):
        KetamaRing(["a"], compat="memcached")


def test_ring_size_is_32_bits():
    ring = KetamaRing(servers(CASES["ten_equal"]))
    assert ring.RING_SIZE == 2**32
    assert all(0 <= position < 2**32 for position, _ in ring.points())
