"""The DATAFLOW regions of a kernel's plan: which stages run together and which wait.

The ``tile`` pass puts every compute stage in a region (``hls.stage ...
region R``).  The stages of a region run concurrently, connected by depth-2
streams; the regions run one after another.  The planner numbers them by
*level* as it goes through the kernel's ops:

- a stage that reads a value through a ``whole`` buffer is in a later region
  than the stage that fills it: it waits for all of it (a linear layer for
  all activation codes of its row tile, attention for every new key), so a
  FIFO between them would have to hold the whole value and, being two beats
  deep, would stall the producer for ever -- the two stages cannot share a
  region;
- the two ends of a stream are in one region; a value whose reader ends up in
  a later region than its producer is kept in a ``whole`` buffer instead;
- the ``whole`` buffers of kernel arguments are loaded before the first
  region (level -1);
- a region holding a stage that *spans the launch* (needs all rows of the
  launch: attention, a per-tensor quantizer) runs once per launch and holds
  no other kind of stage; the other regions run once per row tile, and
  consecutive ones share one loop over the row tiles (a *loop group*).  A
  buffer written in one loop group and read in another holds all rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARGUMENTS = -1
"""The level of the whole buffers of kernel arguments: loaded before every region."""


@dataclass
class Regions:
    """The levels in use, each row-tiled or spanning the launch."""

    tiled: set[int] = field(default_factory=set)
    spanning: set[int] = field(default_factory=set)

    def place(self, level: int, spans: bool) -> int:
        """The first level from ``level`` on that can hold a stage of this kind; taken for it."""
        other = self.tiled if spans else self.spanning
        while level in other:
            level += 1
        (self.spanning if spans else self.tiled).add(level)
        return level

    def available(self, level: int, spans: bool) -> int:
        """What :meth:`place` would return, without taking it."""
        other = self.tiled if spans else self.spanning
        while level in other:
            level += 1
        return level

    def numbers(self) -> dict[int, int]:
        """Region number of each level in use: 0, 1, ... in level order."""
        return {level: i for i, level in enumerate(sorted(self.tiled | self.spanning))}

    def loop_groups(self) -> dict[int, int]:
        """Loop group of each level: consecutive row-tiled levels share one; a spanning level is alone."""
        groups: dict[int, int] = {ARGUMENTS: -1}
        group, previous_tiled = -1, False
        for level in sorted(self.tiled | self.spanning):
            tiled = level in self.tiled
            if not (tiled and previous_tiled):
                group += 1
            groups[level] = group
            previous_tiled = tiled
        return groups

    def crosses(self, writer: int, readers: list[int]) -> bool:
        """Whether a buffer filled at level ``writer`` and read at ``readers`` must hold all rows of the launch."""
        groups = self.loop_groups()
        if writer == ARGUMENTS or writer in self.spanning:
            return True
        return any(groups[r] != groups[writer] or r in self.spanning for r in readers)
