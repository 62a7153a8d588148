"""Intersection templates: which arms a junction has and what each turn between them is.

A template is pure geometry in the network frame (metres, x east, y north); the junction centre
is the origin. `uecity.traffic.network` turns a template plus the spec's road layout into SUMO
node/edge files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from uecity.core.errors import SpecError

Turn = str  # "left" | "straight" | "right"


@dataclass(frozen=True)
class Arm:
    """One arm of the junction: a name and the compass angle of its outward direction."""

    name: str
    angle_deg: float  # counter-clockwise from east

    def direction(self) -> tuple[float, float]:
        a = math.radians(self.angle_deg)
        return (math.cos(a), math.sin(a))


@dataclass(frozen=True)
class Template:
    """A junction template: its arms, counter-clockwise from east."""

    name: str
    arms: tuple[Arm, ...]
    description: str

    def turn(self, origin: Arm, destination: Arm) -> Turn | None:
        """What a vehicle coming in on `origin` and leaving on `destination` does (None: U-turn)."""
        if origin == destination:
            return None
        heading_in = origin.angle_deg + 180.0
        delta = (destination.angle_deg - heading_in + 180.0) % 360.0 - 180.0
        if abs(delta) < 30.0:
            return "straight"
        return "left" if delta > 0 else "right"


TEMPLATES: dict[str, Template] = {
    "cross4": Template(
        "cross4",
        (Arm("E", 0.0), Arm("N", 90.0), Arm("W", 180.0), Arm("S", 270.0)),
        "a 4-way junction of two straight roads",
    ),
    "tee": Template(
        "tee",
        (Arm("E", 0.0), Arm("W", 180.0), Arm("S", 270.0)),
        "a T-junction: an east-west road with a side road to the south",
    ),
}


def get_template(name: str) -> Template:
    """The template of that name, or a `SpecError` listing the known ones."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise SpecError(
            f"unknown template {name!r}; known templates: {', '.join(TEMPLATES)}",
            field="intersection.template",
        ) from None
