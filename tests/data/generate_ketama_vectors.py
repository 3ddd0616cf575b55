"""Generate ``ketama_vectors.json`` from the real libketama, once, by hand.

This script never runs in CI, and the ``ketama`` package is never a
dependency of imref. The PyPI package ``ketama`` (0.1.1) compiles
libketama's C source into a Python extension. Build it in a throwaway
virtualenv and run this script with that interpreter:

    python3 -m venv /tmp/ketama-venv
    /tmp/ketama-venv/bin/pip install ketama
    /tmp/ketama-venv/bin/python tests/data/generate_ketama_vectors.py

libketama keeps its continuum in System V shared memory, and a second
continuum in the same process crashes, so every case runs in a child
process of its own. Keys are passed to libketama as UTF-8 bytes, because
the binding's str path passes the number of code points as the length and
so truncates a non-ASCII key.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

OUTPUT = Path(__file__).with_name("ketama_vectors.json")


def weighted(prefix: str, weights: list[int]) -> list[tuple[str, int]]:
    """Return servers prefix-1, prefix-2, ... with the given weights."""
    return [(f"{prefix}-{i}", weight) for i, weight in enumerate(weights, start=1)]


# Each case is (name, [(server, weight), ...], purpose).
CASES = [
    (
        "ten_equal",
        [(f"gw-{i}", 1) for i in range(1, 11)],
        "ten servers of equal weight: 40 hashes of four points each",
    ),
    (
        "unequal",
        [("gw-1", 100), ("gw-2", 200), ("gw-3", 300), ("gw-4", 50)],
        "unequal weights",
    ),
    (
        "single_precision",
        weighted("gw", [10, 2, 2, 2, 10, 5, 100, 10, 3]),
        "gw-7's exact share is 250 hashes, but single-precision arithmetic gives 249",
    ),
    (
        "sixty_one_equal",
        [(f"gw-{i}", 1) for i in range(1, 62)],
        "61 servers of equal weight get 39 hashes each, not 40, because "
        "of single-precision arithmetic",
    ),
    (
        "zero_points",
        weighted("gw", [100, 1, 3, 10, 7, 7, 100, 2, 100, 100, 10]),
        "gw-2 silently gets no point at all",
    ),
    (
        "shared_point_546_first",
        [("node-546", 1), ("node-699", 1)],
        "md5('node-546-28') and md5('node-699-28') share their first four "
        "bytes, so both servers have a point at 1410088479",
    ),
    (
        "shared_point_699_first",
        [("node-699", 1), ("node-546", 1)],
        "the same shared point with the servers listed in the other order",
    ),
]


def lookup_keys(servers: list[tuple[str, int]]) -> list[str]:
    """Return the keys to look up: users, exact point hits and non-ASCII keys."""
    keys = [f"user:{i}" for i in range(2000)]
    # md5(f"{server}-{k}")'s first four bytes are that hash's first point, so
    # these keys land exactly on a point.
    for server, _ in servers[:4]:
        keys.extend(f"{server}-{k}" for k in range(3))
    keys.extend(["node-546-28", "node-699-28", "", "用户:1", "ユーザー:2", "é"])
    return keys


def run_case(servers: list[tuple[str, int]]) -> dict:
    """Build one continuum with libketama and look every key up."""
    import ketama

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "servers.conf"
        # libketama drops the last character of the weight token, which it
        # expects to be the newline, so every line ends with one.
        config.write_text("".join(f"{name}\t{weight}\n" for name, weight in servers))
        continuum = ketama.Ketama(str(config))
        points = continuum.get_points()
        lookups = []
        for key in lookup_keys(servers):
            point, server = continuum.get_server(key.encode())
            lookups.append([key, point, server])
    return {"points": [list(p) for p in points], "lookups": lookups}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        servers = [tuple(pair) for pair in json.loads(sys.argv[2])]
        json.dump(run_case(servers), sys.stdout)
        return

    cases = []
    for name, servers, purpose in CASES:
        child = subprocess.run(
            [sys.executable, __file__, "--case", json.dumps(servers)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout)
        cases.append(
            {
                "name": name,
                "purpose": purpose,
                "servers": [list(pair) for pair in servers],
                **result,
            }
        )
        print(f"{name}: {len(result['points'])} points", file=sys.stderr)

    document = {
        "source": "libketama as built by the PyPI package ketama 0.1.1 on "
        "Debian 12 (glibc 2.36, whose qsort is a stable merge sort here)",
        "generator": "tests/data/generate_ketama_vectors.py",
        "cases": cases,
    }
    OUTPUT.write_text(format_document(document))


def format_document(document: dict) -> str:
    """Return JSON with one point or lookup per line, so diffs stay readable."""

    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"]
    for field in ("source", "generator"):
        lines.append(f"{dump(field)}: {dump(document[field])},")
    lines.append('"cases": [')
    for i, case in enumerate(document["cases"]):
        lines.append("{")
        for field in ("name", "purpose", "servers"):
            lines.append(f"{dump(field)}: {dump(case[field])},")
        for field in ("points", "lookups"):
            rows = ",\n".join(dump(row) for row in case[field])
            end = "," if field == "points" else ""
            lines.append(f"{dump(field)}: [\n{rows}\n]{end}")
        lines.append("}," if i < len(document["cases"]) - 1 else "}")
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
