"""Benchmark imref.balancing: lookups per second, balance and keys moved.

Every strategy and uhashring 2.5 (its default md5 ring and its ketama mode)
run in the same process on the same keys, so the ratios hold on other
machines even where the absolute rates do not. Nodes are gw-1 to gw-10 and
keys are user:0 to user:99999. A rate is the best of seven passes over all
keys. Run from the repository root, in about a minute:

    .venv/bin/python bench/balancing.py
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import xxhash
from tqdm import tqdm
from uhashring import HashRing as UHashRing

from imref.balancing import STRATEGIES, BoundedLoadRing, HashRing, KetamaRing

NODES = [f"gw-{i}" for i in range(1, 11)]
KEYS = [f"user:{i}" for i in range(100_000)]
IDS = np.arange(100_000, dtype=np.int64)
PASSES = 7
# Strategies whose choice depends only on the key and the membership.
STICKY = ["ring", "ketama", "jump", "rendezvous", "maglev"]


def best_rates(
    jobs: list[tuple[str, Callable[[], Callable[[], object]]]],
) -> dict[str, float]:
    """Return keys per second of each job's fastest pass.

    Passes of all jobs are interleaved, round by round, so that a burst of
    load from other processes slows every job alike instead of one job.
    ``make`` builds a fresh pass, so load-aware strategies start each pass
    with no connection, and construction is not timed.
    """
    best = {label: math.inf for label, _ in jobs}
    with tqdm(total=PASSES * len(jobs), desc="lookups", file=sys.stderr) as progress:
        for _ in range(PASSES):
            for label, make in jobs:
                run = make()
                start = time.perf_counter()
                run()
                best[label] = min(best[label], time.perf_counter() - start)
                progress.update()
    return {label: len(KEYS) / seconds for label, seconds in best.items()}


def pick_all(balancer) -> Callable[[], list[str]]:
    pick = balancer.pick
    return lambda: [pick(key) for key in KEYS]


def max_over_mean(picks: list[str]) -> float:
    counts = Counter(picks)
    return max(counts.values()) / (len(picks) / len(NODES))


def moved_share(before: list[str], after: list[str]) -> float:
    return sum(a != b for a, b in zip(before, after, strict=True)) / len(before)


def measure_rates() -> dict[str, float]:
    """Return lookups per second for every strategy and baseline."""
    peer = UHashRing(NODES)
    peer_ketama = UHashRing(NODES, hash_fn="ketama")
    ring = HashRing(NODES)
    jobs: list[tuple[str, Callable[[], Callable[[], object]]]] = [
        ("uhashring", lambda: lambda: [peer.get_node(key) for key in KEYS]),
        (
            "uhashring ketama",
            lambda: lambda: [peer_ketama.get_node(key) for key in KEYS],
        ),
    ]
    for name, cls in STRATEGIES.items():
        jobs.append((name, lambda cls=cls: pick_all(cls(NODES, seed=1))))
    uhashring_mode = KetamaRing(NODES, compat="uhashring")
    jobs.append(("ketama, uhashring mode", lambda: pick_all(uhashring_mode)))
    jobs.append(("ring pick_many, str keys", lambda: lambda: ring.pick_many(KEYS)))
    jobs.append(("ring pick_many, int ids", lambda: lambda: ring.pick_many(IDS)))
    return best_rates(jobs)


def measure_balance() -> dict[str, tuple[float, float | None, float | None]]:
    """Return max/mean load and the shares moved by adding gw-11 and removing gw-10."""
    results = {}
    for name, cls in tqdm(STRATEGIES.items(), desc="balance", file=sys.stderr):
        balancer = cls(NODES, seed=1)
        before = [balancer.pick(key) for key in KEYS]
        added = removed = None
        if name in STICKY or name == "bounded_load":
            grown = cls([*NODES, "gw-11"], seed=1)
            added = moved_share(before, [grown.pick(key) for key in KEYS])
            shrunk = cls(NODES[:-1], seed=1)
            removed = moved_share(before, [shrunk.pick(key) for key in KEYS])
        results[name] = (max_over_mean(before), added, removed)

    # Hashing mod n, the baseline that consistent hashing improves on.
    hashes = [xxhash.xxh3_64_intdigest(key.encode()) for key in KEYS]
    mod_n = [NODES[h % 10] for h in hashes]
    added = moved_share(mod_n, [([*NODES, "gw-11"])[h % 11] for h in hashes])
    removed = moved_share(mod_n, [NODES[h % 9] for h in hashes])
    results["mod-n hashing (baseline)"] = (max_over_mean(mod_n), added, removed)
    return results


def measure_workload_balance() -> dict[str, float]:
    """Return max/mean load of every sticky strategy on the workload's users."""
    from imref.workload import load

    users = [f"user:{user_id}" for user_id in load("default").users["user_id"]]
    ratios = {}
    for name in [*STICKY, "bounded_load"]:
        balancer = STRATEGIES[name](NODES)
        ratios[name] = max_over_mean([balancer.pick(key) for key in users])
    return ratios


def check_bounded_cap(eps: float = 0.25) -> tuple[int, int]:
    """Place every key with bounded loads; return (cap violations, final max load)."""
    balancer = BoundedLoadRing(NODES, eps=eps)
    violations = 0
    for key in KEYS:
        cap = balancer.cap()
        node = balancer.pick(key)
        violations += balancer.loads[node] > cap
    return violations, max(balancer.loads.values())


def main() -> int:
    started = time.perf_counter()
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )
    print(f"nodes gw-1..gw-10, keys user:0..user:{len(KEYS) - 1}, best of {PASSES}")

    rates = measure_rates()
    baseline = rates["uhashring"]
    print()
    print(f"{'lookups':<28} {'per second':>12} {'vs uhashring':>13}")
    for label, value in rates.items():
        print(f"{label:<28} {value:>12,.0f} {value / baseline:>12.2f}x")

    balance = measure_balance()
    print()
    print(f"{'strategy':<28} {'max/mean':>9} {'moved +gw-11':>13} {'moved -gw-10':>13}")
    for label, (ratio, added, removed) in balance.items():
        added_text = f"{added:.4f}" if added is not None else "n/a"
        removed_text = f"{removed:.4f}" if removed is not None else "n/a"
        print(f"{label:<28} {ratio:>9.3f} {added_text:>13} {removed_text:>13}")
    print(f"{'ideal':<28} {1:>9.3f} {1 / 11:>13.4f} {1 / 10:>13.4f}")

    workload = measure_workload_balance()
    print()
    print("max/mean load on the default workload's users, keys user:<user_id>:")
    print("  " + ", ".join(f"{name} {ratio:.3f}" for name, ratio in workload.items()))

    violations, max_load = check_bounded_cap()
    print()
    print(
        f"bounded_load, eps=0.25: {violations} placements above the cap, "
        f"max load {max_load} (mean {len(KEYS) // len(NODES)})"
    )

    targets = [
        (
            "KetamaRing vs uhashring ketama",
            rates["ketama"] / rates["uhashring ketama"],
            1.5,
            ">=",
        ),
        ("ring vs uhashring", rates["ring"] / baseline, 3.0, ">="),
        (
            "pick_many str vs uhashring",
            rates["ring pick_many, str keys"] / baseline,
            5.0,
            ">=",
        ),
        (
            "pick_many ids vs uhashring",
            rates["ring pick_many, int ids"] / baseline,
            10.0,
            ">=",
        ),
        ("KetamaRing max/mean", balance["ketama"][0], 1.10, "<="),
        ("ring max/mean", balance["ring"][0], 1.20, "<="),
        ("KetamaRing moved +gw-11", balance["ketama"][1], 1.2 / 11, "<="),
        ("ring moved +gw-11", balance["ring"][1], 1.2 / 11, "<="),
        ("bounded_load cap violations", violations, 0, "<="),
    ]
    print()
    print(f"{'target':<32} {'measured':>9} {'target':>9}  result")
    failed = 0
    for label, value, limit, sense in targets:
        ok = value >= limit if sense == ">=" else value <= limit
        failed += not ok
        print(
            f"{label:<32} {value:>9.3f} {sense}{limit:>7.3f}  "
            f"{'met' if ok else 'MISSED'}"
        )
    print(f"\nelapsed {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
