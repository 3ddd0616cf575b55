"""Parameters of the recorded workloads, one ``WorkloadSpec`` per name.

Every number here is either a parameter of a published model or measurement
(``data/README.md`` names the source by title) or an assumption, and
``data/README.md`` marks which. Changing any of them changes the committed
files, so regenerate them with ``imref workload`` afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from imref.workload.errors import WorkloadError

#: Device platforms, in the order of the ``platform`` categories.
PLATFORMS = ("phone", "tablet", "desktop", "web")

#: Chance that a user has a device on each platform (assumed). A user left
#: with no device gets a phone.
PLATFORM_PROBABILITY = {"phone": 0.97, "tablet": 0.20, "desktop": 0.45, "web": 0.15}

#: Conversation kinds, in the order of the ``kind`` categories.
KINDS = ("single", "group")

#: Content types, in the order of the ``content_type`` categories.
CONTENT_TYPES = ("text", "image", "voice", "video", "file")

#: Share of messages of each content type (assumed).
CONTENT_SHARE = {
    "text": 0.80,
    "image": 0.10,
    "voice": 0.05,
    "video": 0.02,
    "file": 0.03,
}

#: Median and log-space sigma of the attachment size in bytes (assumed).
#: Text messages have no attachment.
MEDIA_SIZE = {
    "image": (120_000, 0.6),
    "voice": (16_000, 0.5),
    "video": (3_000_000, 0.8),
    "file": (500_000, 1.5),
}

#: Median and log-space sigma of a text body in UTF-8 bytes (assumed), and the
#: largest body a text message may have.
TEXT_SIZE = (36, 0.8)
TEXT_SIZE_MAX = 4096

#: Median and log-space sigma of the body of a media message (assumed): a
#: reference to the uploaded file plus its metadata, not the file itself.
MEDIA_REFERENCE_SIZE = (260, 0.2)

#: Relative message rate for each hour of the day, 00:00 to 23:00 local time
#: (assumed shape: a night trough, a rise through the morning, a lunch bump and
#: an evening peak at 21:00).
HOURLY_RATE = (
    0.30, 0.18, 0.10, 0.06, 0.05, 0.06,
    0.12, 0.35, 0.70, 0.90, 1.00, 1.05,
    1.15, 1.00, 0.95, 0.95, 0.98, 1.00,
    1.05, 1.15, 1.35, 1.50, 1.20, 0.70,
)  # fmt: skip

#: Relative message rate of each day, Monday first (assumed: a slightly
#: busier weekend).
DAILY_RATE = (1.00, 1.00, 1.00, 1.00, 1.05, 1.15, 1.10)

#: Seconds in the recorded week, so ``sent_at`` lies in ``[0, WEEK_SECONDS)``.
WEEK_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class WorkloadSpec:
    """The size and shape parameters of one recorded workload."""

    name: str
    seed: int
    n_users: int
    #: Edges each new user adds in the Holme-Kim growth model (networkx
    #: ``powerlaw_cluster_graph``). The mean friend count is about twice this.
    friends_per_new_user: int
    #: Chance that each further edge closes a triangle in that model.
    triangle_probability: float
    #: Groups in all, the large ones included.
    n_groups: int
    n_large_groups: int
    group_size_min: int
    #: Largest ordinary group. A group is large when its size exceeds this.
    group_size_cap: int
    #: Exponent of the truncated power law p(k) ~ k**-exponent of group sizes.
    group_size_exponent: float
    #: Inclusive range of large-group sizes, drawn uniformly.
    large_group_sizes: tuple[int, int]
    n_messages: int
    #: Share of messages sent in groups rather than single chats.
    group_message_share: float
    #: Log-space sigma of the lognormal user activity (relative sending weight).
    activity_sigma: float = 1.0
    #: Log-space sigma of the lognormal per-conversation activity factor.
    conversation_sigma: float = 1.5

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise WorkloadError(f"workload spec {self.name!r}: {'. '.join(problems)}.")

    def _problems(self):
        """Yield a description of each parameter that generation cannot use."""
        low, high = self.large_group_sizes
        if self.n_users < 2:
            yield f"n_users={self.n_users!r} is invalid; use at least 2"
        if not 1 <= self.friends_per_new_user < self.n_users:
            yield (
                f"friends_per_new_user={self.friends_per_new_user!r} is invalid; "
                f"use 1 to n_users - 1 ({self.n_users - 1})"
            )
        if not 0 <= self.triangle_probability <= 1:
            yield (
                f"triangle_probability={self.triangle_probability!r} is invalid; "
                "use a value in [0, 1]"
            )
        if not 0 <= self.n_large_groups <= self.n_groups or self.n_groups < 1:
            yield (
                f"n_groups={self.n_groups!r} with n_large_groups="
                f"{self.n_large_groups!r} is invalid; use 1 or more groups, of "
                "which 0 to all are large"
            )
        if not 2 <= self.group_size_min <= self.group_size_cap <= self.n_users:
            yield (
                f"group sizes {self.group_size_min!r} to {self.group_size_cap!r} are "
                f"invalid; use 2 <= group_size_min <= group_size_cap <= n_users"
            )
        if self.n_large_groups and not self.group_size_cap < low <= high <= (
            self.n_users
        ):
            yield (
                f"large_group_sizes={self.large_group_sizes!r} is invalid; use a "
                f"range above group_size_cap ({self.group_size_cap}) and within "
                f"n_users ({self.n_users})"
            )
        if self.n_messages < 1:
            yield f"n_messages={self.n_messages!r} is invalid; use at least 1"
        if not 0 <= self.group_message_share <= 1:
            yield (
                f"group_message_share={self.group_message_share!r} is invalid; "
                "use a value in [0, 1]"
            )
        if self.activity_sigma < 0 or self.conversation_sigma < 0:
            yield (
                f"activity_sigma={self.activity_sigma!r} and conversation_sigma="
                f"{self.conversation_sigma!r} must not be negative"
            )


SPECS = {
    "tiny": WorkloadSpec(
        name="tiny",
        seed=20261204,
        n_users=200,
        friends_per_new_user=3,
        triangle_probability=0.3,
        n_groups=20,
        n_large_groups=2,
        group_size_min=3,
        group_size_cap=40,
        group_size_exponent=2.0,
        large_group_sizes=(60, 150),
        n_messages=2_000,
        group_message_share=0.4,
    ),
    "default": WorkloadSpec(
        name="default",
        seed=20261205,
        n_users=10_000,
        friends_per_new_user=5,
        triangle_probability=0.3,
        n_groups=1_000,
        n_large_groups=8,
        group_size_min=3,
        group_size_cap=500,
        group_size_exponent=2.0,
        large_group_sizes=(501, 2_000),
        n_messages=200_000,
        group_message_share=0.4,
    ),
}
