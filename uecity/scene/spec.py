"""The scene spec: what `uecity generate` builds, as validated plain data.

A spec is YAML on disk and a tree of frozen pydantic models here. Every field has a default, so
an empty file (or no file at all) is the built-in default scene: a signalised 4-way junction
seen by automatically placed cameras, small enough to generate in well under a minute. Every
check that can fail does so here or in `uecity.generate.run.plan_run`, before any work starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from uecity.core.errors import SpecError
from uecity.core.record_io import load_yaml, validate_record
from uecity.scene.templates import TEMPLATES as TEMPLATE_TABLE

#: Named colours every vehicle type may be painted in, with their sRGB values.
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 22),
    "white": (235, 235, 232),
    "grey": (128, 128, 130),
    "silver": (190, 192, 196),
    "red": (190, 25, 25),
    "blue": (30, 60, 170),
    "green": (30, 120, 50),
    "yellow": (230, 200, 30),
    "orange": (230, 120, 20),
    "brown": (110, 70, 40),
}

VEHICLE_TYPES = ("car", "suv", "van", "bus", "truck")
PEDESTRIAN_TYPES = ("adult", "child")
TEMPLATES = tuple(TEMPLATE_TABLE)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _default_colours() -> dict[str, float]:
    return {
        "black": 3.0,
        "white": 3.0,
        "grey": 2.0,
        "silver": 2.0,
        "red": 1.5,
        "blue": 1.5,
        "green": 0.7,
        "yellow": 0.5,
        "orange": 0.4,
        "brown": 0.5,
    }


class TrafficLights(_Frozen):
    """Signal plan of the junction (a fixed-time SUMO program)."""

    enabled: bool = Field(True, description="Signalise the junction; otherwise priority rules.")
    green_s: int = Field(25, ge=5, le=120, description="Green phase of each main direction, s.")
    yellow_s: int = Field(3, ge=1, le=10, description="Yellow phase after each green, s.")


class IntersectionSpec(_Frozen):
    """The junction: a template plus its road layout."""

    template: str = Field("cross4", description=f"Junction template, one of {TEMPLATES}.")
    lanes_per_approach: int = Field(2, ge=1, le=4, description="Through lanes per direction.")
    turn_lane: bool = Field(True, description="Add a left-turn lane before the junction.")
    turn_lane_length_m: float = Field(30.0, ge=10, le=100, description="Length of that lane.")
    lane_width_m: float = Field(3.2, ge=2.5, le=4.5, description="Width of a vehicle lane, m.")
    approach_length_m: float = Field(120.0, ge=50, le=500, description="Arm length, m.")
    speed_limit_kmh: float = Field(50.0, ge=10, le=120, description="Speed limit, km/h.")
    sidewalk_width_m: float = Field(3.0, ge=0, le=8, description="Sidewalk width (0: none).")
    crossings: bool = Field(True, description="Zebra crossings on every arm (needs sidewalks).")
    traffic_lights: TrafficLights = Field(default_factory=TrafficLights)
    parking: bool = Field(True, description="Curbside parking along the outgoing arms.")

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value not in TEMPLATES:
            raise ValueError(f"unknown template {value!r}; known templates: {', '.join(TEMPLATES)}")
        return value


class VehicleClassSpec(_Frozen):
    """One vehicle type of the mix: its share and its colour distribution."""

    share: float = Field(ge=0, description="Relative share of this type in the vehicle flow.")
    colours: dict[str, float] = Field(
        default_factory=_default_colours,
        description="Relative weight of each named colour (see COLOURS).",
    )

    @field_validator("colours")
    @classmethod
    def _known_colours(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(COLOURS))
        if unknown:
            raise ValueError(f"unknown colour(s) {unknown}; known: {sorted(COLOURS)}")
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("colour weights must be >= 0 with a positive sum")
        return value


def _default_mix() -> dict[str, VehicleClassSpec]:
    return {
        "car": VehicleClassSpec(share=0.55),
        "suv": VehicleClassSpec(share=0.2),
        "van": VehicleClassSpec(share=0.12),
        "bus": VehicleClassSpec(
            share=0.06, colours={"white": 2, "red": 1, "yellow": 1, "blue": 1, "green": 1}
        ),
        "truck": VehicleClassSpec(share=0.07),
    }


class TurnRatios(_Frozen):
    """Relative weights of what a vehicle does at the junction."""

    left: float = Field(0.25, ge=0)
    straight: float = Field(0.5, ge=0)
    right: float = Field(0.25, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> TurnRatios:
        if self.left + self.straight + self.right <= 0:
            raise ValueError("turn ratios must have a positive sum")
        return self


class DemandSpec(_Frozen):
    """Who comes to the junction."""

    vehicles_per_hour: float = Field(
        2400, ge=0, le=20000, description="Vehicles entering, all arms together."
    )
    mix: dict[str, VehicleClassSpec] = Field(
        default_factory=_default_mix, description=f"Vehicle types {VEHICLE_TYPES} and shares."
    )
    turn_ratios: TurnRatios = Field(default_factory=TurnRatios)
    pedestrians_per_hour: float = Field(
        1500, ge=0, le=20000, description="Pedestrians entering, all sidewalks together."
    )
    crossing_share: float = Field(
        0.6, ge=0, le=1, description="Share of pedestrians whose walk crosses a road."
    )
    parked_vehicles: int = Field(10, ge=0, le=200, description="Vehicles parked at the curb.")

    @field_validator("mix")
    @classmethod
    def _known_types(cls, value: dict[str, VehicleClassSpec]) -> dict[str, VehicleClassSpec]:
        unknown = sorted(set(value) - set(VEHICLE_TYPES))
        if unknown:
            raise ValueError(f"unknown vehicle type(s) {unknown}; known: {list(VEHICLE_TYPES)}")
        return value

    @model_validator(mode="after")
    def _some_demand(self) -> DemandSpec:
        moving = self.vehicles_per_hour > 0 and sum(c.share for c in self.mix.values()) > 0
        if not moving and self.pedestrians_per_hour <= 0 and self.parked_vehicles <= 0:
            raise ValueError(
                "zero demand: set vehicles_per_hour (with a mix of positive shares), "
                "pedestrians_per_hour or parked_vehicles above 0"
            )
        return self


class CameraSpec(_Frozen):
    """A static surveillance camera placed by hand, in the network frame (metres)."""

    x: float = Field(description="Position east of the junction centre, m.")
    y: float = Field(description="Position north of the junction centre, m.")
    height_m: float = Field(10.0, gt=0, le=500, description="Height above the road, m.")
    yaw_deg: float = Field(
        description="Heading of the optical axis, degrees counter-clockwise from east."
    )
    pitch_deg: float = Field(-30.0, ge=-90, le=30, description="Tilt; negative looks down.")
    roll_deg: float = Field(0.0, ge=-45, le=45, description="Roll about the optical axis.")
    fov_deg: float = Field(70.0, gt=5, lt=170, description="Horizontal field of view.")


class AutoCameras(_Frozen):
    """Cameras placed automatically so that they frame the junction, one pose per video."""

    height_m: tuple[float, float] = Field((12.0, 20.0), description="Height range, m.")
    distance_m: tuple[float, float] = Field(
        (32.0, 45.0), description="Ground distance from the junction centre, m."
    )
    fov_deg: tuple[float, float] = Field((60.0, 72.0), description="Horizontal FOV range.")

    @field_validator("height_m", "distance_m", "fov_deg")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1]:
            raise ValueError("expected [low, high] with 0 < low <= high")
        return value


class CaptureSpec(_Frozen):
    """Image size and rate, common to all cameras."""

    width: int = Field(1280, ge=64, le=7680, description="Image width, px.")
    height: int = Field(720, ge=64, le=4320, description="Image height, px.")
    fps: float = Field(10.0, ge=1, le=120, description="Frames per second.")


class RunSpec(_Frozen):
    """How much to record and how."""

    videos: int = Field(3, ge=1, le=10000, description="Number of videos.")
    frames: int = Field(300, ge=1, le=100000, description="Frames per video.")
    warmup_s: float = Field(
        60.0, ge=0, le=3600, description="Simulated time before recording starts, s."
    )
    seed: int = Field(0, ge=0, description="Seed of the whole run.")
    backend: Literal["sim", "unrealcv"] = Field("sim", description="Renderer backend.")
    mode: Literal["puppeteer", "observe"] = Field(
        "puppeteer",
        description="puppeteer: SUMO's traffic, posed in the renderer; observe (unrealcv only): "
        "record the traffic the engine moves itself, poses read back, motion left to the "
        "annotator.",
    )
    image_format: Literal["jpg", "png"] = Field("jpg", description="Frame image format.")
    jpeg_quality: int = Field(90, ge=50, le=100, description="JPEG quality (fixed per run).")
    min_visibility: float = Field(
        0.15, ge=0, le=1, description="Boxes less visible than this are not annotated."
    )
    min_box_pixels: int = Field(
        30, ge=1, description="Boxes with fewer visible pixels are not annotated."
    )
    test_fraction: float = Field(0.3, ge=0, le=1, description="Share of videos in the test split.")

    @model_validator(mode="after")
    def _observe_needs_an_engine(self) -> RunSpec:
        if self.mode == "observe" and self.backend != "unrealcv":
            raise ValueError("mode 'observe' records an engine's own traffic: use backend unrealcv")
        return self


class SceneSpec(_Frozen):
    """A whole scene: junction, demand, cameras, capture and run settings."""

    name: str = Field("uecity-demo", description="Dataset name written into the manifest.")
    intersection: IntersectionSpec = Field(default_factory=IntersectionSpec)
    demand: DemandSpec = Field(default_factory=DemandSpec)
    cameras: Annotated[
        list[CameraSpec] | Literal["auto"] | AutoCameras,
        Field(description="'auto', an `auto` block, or a list of cameras used in turn."),
    ] = "auto"
    capture: CaptureSpec = Field(default_factory=CaptureSpec)
    run: RunSpec = Field(default_factory=RunSpec)

    @field_validator("cameras")
    @classmethod
    def _non_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one camera, or 'auto'")
        return value

    @property
    def auto_cameras(self) -> AutoCameras | None:
        if self.cameras == "auto":
            return AutoCameras()
        return self.cameras if isinstance(self.cameras, AutoCameras) else None

    def with_overrides(
        self,
        *,
        videos: int | None = None,
        frames: int | None = None,
        seed: int | None = None,
        backend: str | None = None,
        mode: str | None = None,
    ) -> SceneSpec:
        """The spec with the command line's overrides applied (and validated)."""
        run = self.run.model_dump()
        overrides = (
            ("videos", videos),
            ("frames", frames),
            ("seed", seed),
            ("backend", backend),
            ("mode", mode),
        )
        for key, value in overrides:
            if value is not None:
                run[key] = value
        data = self.model_dump()
        data["run"] = run
        return parse_spec(data)


def parse_spec(data: Any, *, path: str | Path | None = None) -> SceneSpec:
    """Validate plain data (as loaded from YAML) into a `SceneSpec`, or raise `SpecError`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError("expected a mapping at the top level of the spec", path=path)
    return validate_record(
        data, SceneSpec, path=Path(path) if path is not None else None, what="scene spec"
    )


def load_spec(path: str | Path | None) -> SceneSpec:
    """Load a YAML spec file; `None` gives the built-in default spec."""
    if path is None:
        return SceneSpec()
    path = Path(path)
    return parse_spec(load_yaml(path, what="spec"), path=path)


def spec_to_plain(spec: SceneSpec) -> dict[str, Any]:
    """The resolved spec as JSON-ready data (what the manifest records)."""
    return spec.model_dump(mode="json")
