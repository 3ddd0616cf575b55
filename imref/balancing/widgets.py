"""An ipywidgets control that adds or removes a gateway and redraws the ring.

The buttons call ``on_add`` and ``on_remove``, which change the ring through
its public ``add`` and ``remove`` and redraw it with ``plots.plot_ring``, the
same tested function the notebook uses. The handlers need no browser, so
tests call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from imref.balancing.analysis import moved_fraction
from imref.balancing.plots import plot_ring

logger = logging.getLogger("imref.balancing")


class RingExplorer:
    """Add and Remove buttons, a status line and the ring figure below them.

    ``ring`` is a ``HashRing`` (or any balancer with ``add``, ``remove``,
    ``nodes``, ``points``, ``RING_SIZE`` and ``hash_key``). New gateways are
    named ``f"{prefix}{k}"`` with the least k not in use, and Remove takes
    away the gateway added last, or the last in ``ring.nodes`` when none was
    added here. After each change the status line gives the fraction of
    ``keys`` that moved.
    """

    def __init__(
        self,
        ring: Any,
        keys: Sequence[str | bytes] = (),
        *,
        prefix: str = "gw-",
        max_nodes: int = 20,
    ) -> None:
        self.ring = ring
        self.keys = list(keys)
        self.prefix = prefix
        self.max_nodes = max_nodes
        # Every node ever shown keeps its place here, and so keeps its colour.
        self.color_order: list[str] = list(ring.nodes)
        self.added: list[str] = []
        self.figure = None
        self.last_moved: float | None = None

        self.add_button = widgets.Button(description="Add gateway", icon="plus")
        self.remove_button = widgets.Button(description="Remove gateway", icon="minus")
        self.status = widgets.Label()
        self.output = widgets.Output()
        self.add_button.on_click(self.on_add)
        self.remove_button.on_click(self.on_remove)
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.add_button, self.remove_button]),
                self.status,
                self.output,
            ]
        )
        self._assignment = self._assign()
        self.redraw()

    def _assign(self) -> list[str]:
        return [self.ring.pick(key) for key in self.keys]

    def _next_name(self) -> str:
        taken = set(self.ring.nodes)
        k = 1
        while f"{self.prefix}{k}" in taken:
            k += 1
        return f"{self.prefix}{k}"

    def on_add(self, _button: Any = None) -> None:
        """Add the next free gateway name to the ring and redraw it."""
        if len(self.ring.nodes) >= self.max_nodes:
            self.status.value = f"at most {self.max_nodes} gateways in this demo"
            return
        node = self._next_name()
        self.ring.add(node)
        self.added.append(node)
        if node not in self.color_order:
            self.color_order.append(node)
        self._after_change(f"{node} joined")

    def on_remove(self, _button: Any = None) -> None:
        """Remove the gateway added last (or the ring's last node) and redraw."""
        if len(self.ring.nodes) <= 1:
            self.status.value = "the ring needs at least one gateway"
            return
        node = self.added.pop() if self.added else self.ring.nodes[-1]
        self.ring.remove(node)
        self._after_change(f"{node} left")

    def _after_change(self, event: str) -> None:
        assignment = self._assign()
        if self.keys:
            self.last_moved = moved_fraction(self._assignment, assignment)
        self._assignment = assignment
        logger.debug("ring explorer: %s", event)
        self.redraw(event)

    def redraw(self, event: str | None = None) -> None:
        """Draw the ring again through ``plot_ring`` and update the status line."""
        if self.figure is not None:
            plt.close(self.figure)
        self.figure = plot_ring(self.ring, self.keys, nodes=self.color_order)
        parts = [
            f"{len(self.ring.nodes)} gateways",
            f"{len(self.ring.points())} points",
        ]
        if event is not None:
            parts.append(event)
        if event is not None and self.last_moved is not None:
            parts.append(f"{self.last_moved:.1%} of {len(self.keys)} keys moved")
        self.status.value = "; ".join(parts)
        with self.output:
            self.output.clear_output(wait=True)
            display(self.figure)
        # The figure is shown above; closing it keeps the inline backend from
        # showing it a second time at the end of the cell.
        plt.close(self.figure)

    def _ipython_display_(self) -> None:
        display(self.widget)
