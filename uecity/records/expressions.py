"""`expressions/<vid>/<expression_id>.json`: a referring expression and its referents.

The Refer-KITTI keys (`label`, `ignore`, `video_name`, `sentence`) come first so that
TransRMOT-style readers take the file unchanged; our own keys add the expression's id, the
language elements (atoms) it was built from and the AND/OR logic that joined them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from uecity.records.base import Record, TrackId, VideoId


class LogicNode(Record):
    """A node of the expression's logic tree: an atom, or AND / OR of sub-trees."""

    op: Literal["atom", "and", "or"]
    atom: str | None = Field(default=None, description="Atom id when op is 'atom'.")
    args: list[LogicNode] = Field(default_factory=list, description="Operands of and/or.")

    @model_validator(mode="after")
    def _well_formed(self) -> LogicNode:
        if self.op == "atom":
            if not self.atom or self.args:
                raise ValueError("an 'atom' node needs 'atom' and no 'args'")
        elif self.atom is not None or len(self.args) < 2:
            raise ValueError(f"an '{self.op}' node needs two or more 'args' and no 'atom'")
        return self

    def atoms(self) -> list[str]:
        """The atom ids of the tree, left to right."""
        if self.op == "atom":
            return [self.atom]  # type: ignore[list-item]
        return [a for arg in self.args for a in arg.atoms()]


class Expression(Record):
    """A referring expression over one video with its per-frame referred track ids."""

    label: dict[str, list[TrackId]] = Field(
        description="Frame (0-based, unpadded, as a string) to the track ids referred there."
    )
    ignore: list[TrackId] = Field(default_factory=list, description="Refer-KITTI's ignore list.")
    video_name: VideoId
    sentence: str = Field(min_length=1)
    expression_id: str = Field(
        pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
        max_length=120,
        description="Filesystem-safe slug, unique per video; also the file name.",
    )
    atoms: list[str] = Field(default_factory=list, description="Atom ids the expression uses.")
    logic: LogicNode | None = Field(default=None, description="How the atoms were combined.")

    @field_validator("label")
    @classmethod
    def _frame_keys(cls, label: dict[str, list[int]]) -> dict[str, list[int]]:
        for key, ids in label.items():
            if not key.isdigit() or (len(key) > 1 and key[0] == "0"):
                raise ValueError(f"frame key '{key}' is not an unpadded 0-based integer")
            if len(set(ids)) != len(ids):
                raise ValueError(f"frame {key} lists a track id twice: {ids}")
        return label

    def referents_at(self, frame: int) -> list[int]:
        return self.label.get(str(frame), [])

    def frames(self) -> list[int]:
        """Frames with at least one referent, ascending."""
        return sorted(int(k) for k, ids in self.label.items() if ids)
