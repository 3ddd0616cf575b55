"""Generate a workload from its ``WorkloadSpec``.

Theory of operation: each step draws from its own random stream, seeded by
``(spec.seed, step)``, so changing one step's parameters leaves unchanged
every table that does not depend on that step (devices do not change when the
message parameters do, for example).

1. Users get a lognormal activity, their relative weight as senders.
2. Devices: each user has a device on each platform with a fixed chance.
3. Friendships come from the Holme-Kim growth model (a power-law degree
   distribution with tunable clustering). Each friendship is one single chat.
4. Groups: ordinary sizes follow a power law truncated at the cap, large
   groups are uniform above it. Members are the owner, then the owner's
   friends, friends of friends and so on, in random order within each ring.
5. Messages: a kind, a conversation weighted by its activity, a sender
   weighted by activity among the conversation's members, a time drawn from
   the hourly and daily cycle, then a content type and sizes.
"""

from __future__ import annotations

import logging

import networkx as nx
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from imref.workload.spec import (
    CONTENT_SHARE,
    CONTENT_TYPES,
    DAILY_RATE,
    HOURLY_RATE,
    KINDS,
    MEDIA_REFERENCE_SIZE,
    MEDIA_SIZE,
    PLATFORM_PROBABILITY,
    PLATFORMS,
    SPECS,
    TEXT_SIZE,
    TEXT_SIZE_MAX,
    WorkloadSpec,
)
from imref.workload.tables import SCHEMA, Workload, check_name

logger = logging.getLogger("imref.workload")

STEPS = ("users", "devices", "friendships", "groups", "messages")


def _rng(spec: WorkloadSpec, step: str) -> np.random.Generator:
    return np.random.default_rng([spec.seed, STEPS.index(step)])


def _users(spec: WorkloadSpec) -> pd.DataFrame:
    rng = _rng(spec, "users")
    activity = rng.lognormal(0.0, spec.activity_sigma, spec.n_users)

    # Mean 1, rounded to the six decimals the file stores, so a generated and
    # a loaded workload hold the same floats.
    activity = np.round(activity / activity.mean(), 6)
    return pd.DataFrame({"user_id": np.arange(spec.n_users), "activity": activity})


def _devices(spec: WorkloadSpec) -> pd.DataFrame:
    rng = _rng(spec, "devices")
    chances = np.array([PLATFORM_PROBABILITY[p] for p in PLATFORMS])
    has = rng.random((spec.n_users, len(PLATFORMS))) < chances
    has[~has.any(axis=1), PLATFORMS.index("phone")] = True

    # Row-major order: by user, then by platform.
    user_id, platform = np.nonzero(has)
    return pd.DataFrame(
        {
            "device_id": np.arange(len(user_id)),
            "user_id": user_id,
            "platform": pd.Categorical.from_codes(
                platform, dtype=SCHEMA["devices"]["platform"]
            ),
        }
    )


def _friend_graph(spec: WorkloadSpec) -> nx.Graph:
    seed = int(_rng(spec, "friendships").integers(2**31))
    return nx.powerlaw_cluster_graph(
        spec.n_users, spec.friends_per_new_user, spec.triangle_probability, seed=seed
    )


def _friendships(graph: nx.Graph) -> pd.DataFrame:
    edges = np.array(sorted((min(a, b), max(a, b)) for a, b in graph.edges()))
    return pd.DataFrame(
        {
            "conversation_id": np.arange(len(edges)),
            "user_a": edges[:, 0],
            "user_b": edges[:, 1],
        }
    )


def _adjacency(graph: nx.Graph, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(indptr, indices)``, the friend lists in CSR form.

    User u's friends are ``indices[indptr[u] : indptr[u + 1]]``, ascending.
    """
    edges = np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)
    both = np.concatenate([edges, edges[:, ::-1]])
    both = both[np.lexsort((both[:, 1], both[:, 0]))]
    indptr = np.concatenate(
        [[0], np.cumsum(np.bincount(both[:, 0], minlength=n_users))]
    )
    return indptr, both[:, 1]


def _group_sizes(spec: WorkloadSpec, rng: np.random.Generator) -> np.ndarray:
    n_ordinary = spec.n_groups - spec.n_large_groups
    sizes = np.arange(spec.group_size_min, spec.group_size_cap + 1)
    weights = sizes.astype(float) ** -spec.group_size_exponent
    ordinary = rng.choice(sizes, size=n_ordinary, p=weights / weights.sum())
    low, high = spec.large_group_sizes
    large = rng.integers(low, high + 1, size=spec.n_large_groups)

    # Large groups sit at random positions among the ordinary ones.
    return rng.permutation(np.concatenate([ordinary, large]))


def _fill_group(
    owner: int, size: int, indptr: np.ndarray, indices: np.ndarray, rng
) -> np.ndarray:
    """Collect ``size`` users: the owner, then ring after ring of friends."""
    n_users = len(indptr) - 1
    seen = np.zeros(n_users, dtype=bool)
    seen[owner] = True
    chosen = [np.array([owner])]
    count = 1
    ring = np.array([owner])
    while count < size and len(ring):
        neighbours = np.concatenate([indices[indptr[u] : indptr[u + 1]] for u in ring])
        ring = np.unique(neighbours[~seen[neighbours]])
        seen[ring] = True
        ring = rng.permutation(ring)
        chosen.append(ring[: size - count])
        count += len(chosen[-1])

    # A group larger than the owner's connected component takes strangers.
    if count < size:
        strangers = rng.permutation(np.flatnonzero(~seen))[: size - count]
        chosen.append(strangers)
    return np.sort(np.concatenate(chosen))


def _groups(
    spec: WorkloadSpec, graph: nx.Graph, first_conversation: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = _rng(spec, "groups")
    sizes = _group_sizes(spec, rng)
    indptr, indices = _adjacency(graph, spec.n_users)

    # Owners are drawn in proportion to their friend count.
    degree = np.diff(indptr).astype(float)
    owners = rng.choice(spec.n_users, size=len(sizes), p=degree / degree.sum())
    member_lists = [
        _fill_group(int(owner), int(size), indptr, indices, rng)
        for owner, size in zip(owners, sizes, strict=True)
    ]
    group_id = np.arange(len(sizes))
    conversation_id = first_conversation + group_id
    groups = pd.DataFrame(
        {
            "conversation_id": conversation_id,
            "group_id": group_id,
            "size": sizes.astype(np.int64),
            "is_large": sizes > spec.group_size_cap,
        }
    )
    lengths = [len(m) for m in member_lists]
    members = pd.DataFrame(
        {
            "group_id": np.repeat(group_id, lengths),
            "conversation_id": np.repeat(conversation_id, lengths),
            "user_id": np.concatenate(member_lists),
        }
    )
    return groups, members


def _hour_of_week_weights() -> np.ndarray:
    weights = np.outer(DAILY_RATE, HOURLY_RATE).ravel()
    return weights / weights.sum()


def _sizes(rng: np.random.Generator, content: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(content)
    median, sigma = TEXT_SIZE
    text_body = np.clip(
        np.rint(rng.lognormal(np.log(median), sigma, n)), 1, TEXT_SIZE_MAX
    )
    median, sigma = MEDIA_REFERENCE_SIZE
    reference_body = np.rint(rng.lognormal(np.log(median), sigma, n))
    is_text = content == CONTENT_TYPES.index("text")
    size_bytes = np.where(is_text, text_body, reference_body).astype(np.int64)

    media_bytes = np.zeros(n, dtype=np.int64)
    for code, name in enumerate(CONTENT_TYPES):
        if name not in MEDIA_SIZE:
            continue
        median, sigma = MEDIA_SIZE[name]
        drawn = np.rint(rng.lognormal(np.log(median), sigma, n)).astype(np.int64)
        media_bytes = np.where(content == code, drawn, media_bytes)
    return size_bytes, media_bytes


def _messages(
    spec: WorkloadSpec,
    users: pd.DataFrame,
    friendships: pd.DataFrame,
    groups: pd.DataFrame,
    members: pd.DataFrame,
) -> pd.DataFrame:
    rng = _rng(spec, "messages")
    n = spec.n_messages
    activity = users["activity"].to_numpy()
    is_group = rng.random(n) < spec.group_message_share
    conversation = np.empty(n, dtype=np.int64)
    sender = np.empty(n, dtype=np.int64)

    # Single chats: the weight is the product of both users' activity and a
    # lognormal factor for the conversation itself.
    user_a = friendships["user_a"].to_numpy()
    user_b = friendships["user_b"].to_numpy()
    factor = rng.lognormal(0.0, spec.conversation_sigma, len(friendships))
    weight = activity[user_a] * activity[user_b] * factor
    n_single = int((~is_group).sum())
    chat = rng.choice(len(friendships), size=n_single, p=weight / weight.sum())
    a, b = user_a[chat], user_b[chat]
    a_sends = rng.random(n_single) * (activity[a] + activity[b]) < activity[a]
    conversation[~is_group] = friendships["conversation_id"].to_numpy()[chat]
    sender[~is_group] = np.where(a_sends, a, b)

    # Groups: a lognormal factor times the square root of the size, then a
    # sender drawn by activity among the members.
    factor = rng.lognormal(0.0, spec.conversation_sigma, len(groups))
    weight = factor * np.sqrt(groups["size"].to_numpy())
    group = rng.choice(len(groups), size=int(is_group.sum()), p=weight / weight.sum())
    group_senders = np.empty(len(group), dtype=np.int64)
    member_ids = members["user_id"].to_numpy()
    starts = np.concatenate([[0], np.cumsum(groups["size"].to_numpy())])
    for g in np.unique(group):
        where = np.flatnonzero(group == g)
        candidates = member_ids[starts[g] : starts[g + 1]]
        p = activity[candidates] / activity[candidates].sum()
        group_senders[where] = rng.choice(candidates, size=len(where), p=p)
    conversation[is_group] = groups["conversation_id"].to_numpy()[group]
    sender[is_group] = group_senders

    # Time: an hour of the week from the daily cycle, then a uniform offset,
    # truncated to whole milliseconds so it stays below the end of the week.
    hour = rng.choice(7 * 24, size=n, p=_hour_of_week_weights())
    seconds = hour * 3600.0 + rng.random(n) * 3600.0
    sent_at = np.floor(seconds * 1000.0) / 1000.0

    shares = np.array([CONTENT_SHARE[c] for c in CONTENT_TYPES])
    content = rng.choice(len(CONTENT_TYPES), size=n, p=shares / shares.sum())
    size_bytes, media_bytes = _sizes(rng, content)

    # Sort by time. Messages in the same millisecond keep the order of drawing.
    order = np.lexsort((np.arange(n), sent_at))
    return pd.DataFrame(
        {
            "message_id": np.arange(n),
            "sent_at": sent_at[order],
            "conversation_id": conversation[order],
            "kind": pd.Categorical.from_codes(
                np.where(is_group[order], KINDS.index("group"), KINDS.index("single")),
                dtype=SCHEMA["messages"]["kind"],
            ),
            "sender_id": sender[order],
            "size_bytes": size_bytes[order],
            "content_type": pd.Categorical.from_codes(
                content[order], dtype=SCHEMA["messages"]["content_type"]
            ),
            "media_bytes": media_bytes[order],
        }
    )


def _with_schema(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.astype(SCHEMA[table])


def generate(name_or_spec: str | WorkloadSpec, *, progress: bool = True) -> Workload:
    """Generate a workload from a spec or the name of one in ``SPECS``.

    Raises:
        WorkloadError: ``name_or_spec`` is a string that names no workload.
    """
    if isinstance(name_or_spec, str):
        spec = SPECS[check_name(name_or_spec)]
    else:
        spec = name_or_spec
    logger.info("generating workload %r", spec.name)
    bar = tqdm(total=len(STEPS), desc=f"workload {spec.name}", disable=not progress)
    with bar:
        bar.set_postfix_str("users")
        users = _users(spec)
        bar.update()
        bar.set_postfix_str("devices")
        devices = _devices(spec)
        bar.update()
        bar.set_postfix_str("friendships")
        graph = _friend_graph(spec)
        friendships = _friendships(graph)
        bar.update()
        bar.set_postfix_str("groups")
        groups, members = _groups(spec, graph, first_conversation=len(friendships))
        bar.update()
        bar.set_postfix_str("messages")
        messages = _messages(spec, users, friendships, groups, members)
        bar.update()
    frames = {
        "users": users,
        "devices": devices,
        "friendships": friendships,
        "groups": groups,
        "members": members,
        "messages": messages,
    }
    frames = {table: _with_schema(frame, table) for table, frame in frames.items()}
    workload = Workload(name=spec.name, **frames)
    logger.info("generated %r", workload)
    return workload
