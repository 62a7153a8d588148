"""`dataset.json`: what a dataset is, how it was made and how it is split."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from uecity.records.base import FORMAT_VERSION, Record, VideoId


class GeneratorInfo(Record):
    """The program that wrote the dataset."""

    name: str = Field(description="Program name, e.g. 'uecity'.")
    version: str = Field(description="Program version.")


class Vocabulary(Record):
    """The attribute values a dataset uses, offered to annotators and the composer."""

    categories: list[str] = Field(default_factory=list, description="Object categories.")
    types: list[str] = Field(default_factory=list, description="Object types (car, bus, ...).")
    colours: list[str] = Field(default_factory=list, description="Colour names.")
    motion_labels: list[str] = Field(
        default_factory=list, description="Motion interval labels ('turning left', ...)."
    )


class DatasetManifest(Record):
    """The manifest at `<root>/dataset.json`."""

    format_version: str = Field(
        default=FORMAT_VERSION, description="Native format version; readers refuse others."
    )
    name: str = Field(min_length=1, description="Dataset name.")
    videos: list[VideoId] = Field(description="Videos, each a folder under `videos/`.")
    splits: dict[str, list[VideoId]] = Field(
        default_factory=dict, description="Split name (train, test, ...) to its videos."
    )
    vocabulary: Vocabulary = Field(default_factory=Vocabulary)
    generator: GeneratorInfo
    spec: dict[str, Any] | None = Field(
        default=None, description="The resolved spec the dataset was generated from."
    )
    seed: int | None = Field(default=None, ge=0, description="Seed of the generating run.")

    @model_validator(mode="after")
    def _videos_consistent(self) -> DatasetManifest:
        if len(set(self.videos)) != len(self.videos):
            duplicates = sorted({v for v in self.videos if self.videos.count(v) > 1})
            raise ValueError(f"videos listed twice: {duplicates}")
        known = set(self.videos)
        for split, members in self.splits.items():
            unknown = sorted(set(members) - known)
            if unknown:
                raise ValueError(f"split '{split}' names videos not in 'videos': {unknown}")
        return self
