"""The figure of the sign, send and verify flow, drawn from ``CHECKS``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from imref.auth.requests import CHECKS, Check

CLIENT_STEPS = (
    "build the canonical string:\nmethod, path, sorted query, SHA-256(body),\n"
    "Content-Type, timestamp, nonce, key id",
    "tag = HMAC-SHA256(secret,\ncanonical string), in Base64",
    "send the HTTP request with X-Imref-Key-Id,\n-Timestamp, -Nonce and -Signature",
)

_BOX_STYLE = "round,pad=0.02,rounding_size=0.02"


def _box(ax, x, y, width, height, text, colour):
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle=_BOX_STYLE,
            facecolor=colour,
            edgecolor="#333333",
            linewidth=1,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def _arrow(ax, start, end, colour="#333333"):
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.2},
    )


def plot_verification_flow(checks: Sequence[Check] = CHECKS) -> Figure:
    """Draw the client's signing steps and the server's checks in order.

    Each check gets a box with its title and a red branch to the error codes
    it rejects with, so the figure shows exactly the rows of ``checks``. The
    figure is made with pyplot, so ``plt.show()`` displays it in a notebook.
    """
    rows = max(len(CLIENT_STEPS), len(checks) + 1)
    figure, ax = plt.subplots(figsize=(11, 1.15 * rows + 1.2))
    ax.set_xlim(0, 11)
    ax.set_ylim(-0.8, rows + 0.2)
    ax.axis("off")
    top = rows - 0.5

    ax.text(1.9, rows, "client (signer)", ha="center", fontsize=11, weight="bold")
    ax.text(6.0, rows, "server (verifier)", ha="center", fontsize=11, weight="bold")
    for index, text in enumerate(CLIENT_STEPS):
        y = top - index * 1.1
        _box(ax, 1.9, y, 3.5, 0.85, text, "#dbe9f6")
        if index:
            _arrow(ax, (1.9, y + 0.68), (1.9, y + 0.43))
    last_client_y = top - (len(CLIENT_STEPS) - 1) * 1.1

    for index, check in enumerate(checks):
        y = top - index * 1.1
        _box(ax, 6.0, y, 3.8, 0.7, f"{index + 1}. {check.title}", "#fff2cc")
        if index:
            _arrow(ax, (6.0, y + 0.75), (6.0, y + 0.35))
        codes = "\n".join(f"{error.status} {error.code}" for error in check.errors)
        _box(ax, 9.6, y, 2.6, 0.7, codes, "#f8cecc")
        _arrow(ax, (7.9, y), (8.3, y), colour="#b85450")
    _arrow(ax, (3.65, last_client_y), (4.1, top), colour="#1f4e79")

    passed_y = top - len(checks) * 1.1
    _box(ax, 6.0, passed_y, 3.8, 0.7, "all passed: the handler runs", "#d5e8d4")
    _arrow(ax, (6.0, passed_y + 0.75), (6.0, passed_y + 0.35))
    ax.set_title("Sign, send and verify: the verifier's checks, in order")
    return figure
