"""Template + road layout → a SUMO network built by `netconvert`, and its drawable geometry.

`build_network` writes plain node/edge XML, runs the `netconvert` shipped with the
`eclipse-sumo` wheel and reads the result back with `sumolib` into a `Network`: the file path
SUMO runs on, the arms' edge ids (for demand), the parking bays, and the ground polygons a
renderer draws (road surfaces, sidewalks, parking lanes, crossings, lane and stop markings),
all in the network frame with the junction centre at the origin.

Each arm: an incoming edge (split before the junction when a left-turn lane is added), an
outgoing edge, sidewalks as explicit pedestrian-only lanes and, with parking, a curbside lane
only the parked-vehicle class may use (so moving traffic never drives through parked cars).
"""

from __future__ import annotations

import itertools
import logging
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uecity.core.errors import ExternalToolError
from uecity.scene.spec import IntersectionSpec
from uecity.scene.templates import Arm, Template, get_template

log = logging.getLogger(__name__)

PARKING_WIDTH = 2.4  # m
PARKED_CLASS = "custom1"  # SUMO vehicle class of parked vehicles, alone on the parking lanes


@dataclass(frozen=True)
class ArmEdges:
    """The SUMO edges of one arm: where vehicles come in and where they leave."""

    arm: Arm
    incoming: tuple[str, ...]  # from the network's fringe to the junction, in driving order
    outgoing: str


@dataclass(frozen=True)
class ParkingBay:
    """A stretch of a curbside parking lane, cut into 6.5 m slots (parked vehicles stop there)."""

    id: str
    lane: str
    start: float
    end: float
    capacity: int
    shape: tuple[tuple[float, float], ...] = ()  # the lane's centre line

    def pose_at(self, pos: float) -> tuple[float, float, float]:
        """(x, y, heading) at `pos` metres along the lane (a straight lane)."""
        (ax, ay), (bx, by) = self.shape[0], self.shape[-1]
        length = math.hypot(bx - ax, by - ay)
        ux, uy = (bx - ax) / length, (by - ay) / length
        return (ax + ux * pos, ay + uy * pos, math.atan2(uy, ux))


@dataclass
class Network:
    """A built network: SUMO's file, the arms' edges and the ground polygons to draw."""

    net_file: Path
    template: Template
    arms: dict[str, ArmEdges]
    parking: list[ParkingBay]
    additional_file: Path | None
    # Each surface: (kind, polygon float64 array (N, 2)), drawn in list order.
    surfaces: list[tuple[str, np.ndarray]] = field(default_factory=list)
    extent: float = 100.0  # half-size of the drawable ground square, m
    has_sidewalks: bool = True


def sumo_binary(name: str) -> str:
    """Path of a SUMO tool (netconvert, sumo) from the `eclipse-sumo` wheel."""
    try:
        import sumo
    except ImportError as error:  # pragma: no cover - a core dependency
        raise ExternalToolError("the eclipse-sumo package is not installed") from error
    path = Path(sumo.SUMO_HOME) / "bin" / name
    if not path.exists():
        raise ExternalToolError(f"{name} not found in the eclipse-sumo package at {path}")
    return str(path)


def _write_plain_xml(spec: IntersectionSpec, template: Template, folder: Path) -> dict:
    """Node and edge files for netconvert; returns the arms' edge ids."""
    length = spec.approach_length_m
    turn_at = 12.0 + spec.turn_lane_length_m
    speed = spec.speed_limit_kmh / 3.6
    node_type = "traffic_light" if spec.traffic_lights.enabled else "priority"
    nodes = [f'  <node id="C" x="0.00" y="0.00" type="{node_type}"/>']
    edges: list[str] = []
    arms: dict[str, ArmEdges] = {}
    lanes = spec.lanes_per_approach
    width = spec.lane_width_m

    def edge(eid: str, a: str, b: str, n: int, parking: bool = False) -> str:
        lanes_xml = []
        index = 0
        if spec.sidewalk_width_m > 0:
            lanes_xml.append(
                f'<lane index="0" allow="pedestrian" width="{spec.sidewalk_width_m:.2f}"/>'
            )
            index = 1
        if parking:
            # A curbside lane only parked vehicles (SUMO class custom1) may use.
            lanes_xml.append(f'<lane index="{index}" allow="custom1" width="{PARKING_WIDTH}"/>')
        total = n + len(lanes_xml)
        return (
            f'  <edge id="{eid}" from="{a}" to="{b}" numLanes="{total}" speed="{speed:.2f}" '
            f'width="{width:.2f}" disallow="pedestrian {PARKED_CLASS}">'
            + "".join(lanes_xml)
            + "</edge>"
        )

    for arm in template.arms:
        dx, dy = arm.direction()
        far = f"{arm.name}0"
        nodes.append(f'  <node id="{far}" x="{dx * length:.2f}" y="{dy * length:.2f}"/>')
        if spec.turn_lane:
            mid = f"{arm.name}1"
            nodes.append(f'  <node id="{mid}" x="{dx * turn_at:.2f}" y="{dy * turn_at:.2f}"/>')
            edges.append(edge(f"{arm.name}_in", far, mid, lanes))
            edges.append(edge(f"{arm.name}_approach", mid, "C", lanes + 1))
            incoming: tuple[str, ...] = (f"{arm.name}_in", f"{arm.name}_approach")
        else:
            edges.append(edge(f"{arm.name}_in", far, "C", lanes))
            incoming = (f"{arm.name}_in",)
        edges.append(edge(f"{arm.name}_out", "C", far, lanes, parking=spec.parking))
        arms[arm.name] = ArmEdges(arm, incoming, f"{arm.name}_out")
    (folder / "junction.nod.xml").write_text("<nodes>\n" + "\n".join(nodes) + "\n</nodes>\n")
    (folder / "junction.edg.xml").write_text("<edges>\n" + "\n".join(edges) + "\n</edges>\n")
    return arms


def _run_netconvert(spec: IntersectionSpec, folder: Path) -> Path:
    out = folder / "junction.net.xml"
    args = [
        sumo_binary("netconvert"),
        "--node-files",
        str(folder / "junction.nod.xml"),
        "--edge-files",
        str(folder / "junction.edg.xml"),
        "--output-file",
        str(out),
        "--offset.disable-normalization",
        "true",
        "--no-turnarounds",
        "true",
        "--junctions.corner-detail",
        "6",
        "--tls.green.time",
        str(spec.traffic_lights.green_s),
        "--tls.yellow.time",
        str(spec.traffic_lights.yellow_s),
        "--default.lanewidth",
        f"{spec.lane_width_m:.2f}",
        "--seed",
        "1",
        "--no-warnings",
        "true",
    ]
    if spec.sidewalk_width_m > 0:
        args += ["--walkingareas", "true"]
        if spec.crossings:
            args += ["--crossings.guess", "true"]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not out.exists():
        message = (result.stderr or result.stdout).strip()
        raise ExternalToolError(f"netconvert failed: {message}")
    return out


def polyline_to_polygon(points: np.ndarray, width: float) -> np.ndarray:
    """The outline of a polyline of that width, as one polygon (left side, then right back)."""
    points = np.asarray(points, dtype=np.float64)
    seg = np.diff(points, axis=0)
    seg /= np.maximum(np.linalg.norm(seg, axis=1, keepdims=True), 1e-9)
    normals = np.stack([-seg[:, 1], seg[:, 0]], axis=1)
    # Vertex normals: the mean of the adjacent segments' normals.
    vertex_n = np.vstack([normals[:1], (normals[:-1] + normals[1:]) / 2, normals[-1:]])
    vertex_n /= np.maximum(np.linalg.norm(vertex_n, axis=1, keepdims=True), 1e-9)
    left = points + vertex_n * width / 2
    right = points - vertex_n * width / 2
    return np.vstack([left, right[::-1]])


def _offset_polyline(points: np.ndarray, offset: float) -> np.ndarray:
    poly = polyline_to_polygon(points, 2 * abs(offset))
    n = len(points)
    return poly[:n] if offset > 0 else poly[n:][::-1]


def _dashes(points: np.ndarray, dash: float, gap: float, width: float) -> list[np.ndarray]:
    """Dash rectangles along a straight-ish polyline."""
    out = []
    for a, b in itertools.pairwise(points):
        length = float(np.linalg.norm(b - a))
        if length < 1e-6:
            continue
        u = (b - a) / length
        s = gap / 2
        while s + dash <= length:
            out.append(polyline_to_polygon(np.array([a + u * s, a + u * (s + dash)]), width))
            s += dash + gap
    return out


def _surfaces(net) -> list[tuple[str, np.ndarray]]:
    """Ground polygons from the SUMO network, in drawing order."""
    road, sidewalks, crossings, markings, parking = [], [], [], [], []
    parking_lanes = []
    for node in net.getNodes():
        shape = node.getShape()
        if len(shape) >= 3:
            road.append(np.array(shape))
    for edge in sorted(net.getEdges(withInternal=True), key=lambda e: e.getID()):
        function = edge.getFunction()
        for lane in edge.getLanes():
            shape = np.array(lane.getShape())
            if function == "crossing":
                crossings.append(shape)
                continue
            if function == "walkingarea":
                if len(shape) >= 3:
                    sidewalks.append(shape)
                continue
            if function == "internal":
                continue
            poly = polyline_to_polygon(shape, lane.getWidth())
            if lane.allows("pedestrian"):
                sidewalks.append(poly)
            elif lane.allows(PARKED_CLASS) and not lane.allows("passenger"):
                parking.append(poly)
                parking_lanes.append(lane)
            else:
                road.append(poly)
        if function:
            continue
        vehicle_lanes = [ln for ln in edge.getLanes() if ln.allows("passenger")]
        for a, b in itertools.pairwise(vehicle_lanes):
            boundary = (np.array(a.getShape()) + np.array(b.getShape())) / 2
            markings.extend(_dashes(boundary, 3.0, 5.0, 0.15))
        if vehicle_lanes:
            top = vehicle_lanes[-1]
            centre = _offset_polyline(np.array(top.getShape()), top.getWidth() / 2)
            markings.append(polyline_to_polygon(centre, 0.15))
        if edge.getToNode().getID() == "C" and vehicle_lanes:
            # Stop line across the incoming lanes, just before the junction.
            ends = [np.array(ln.getShape()[-1]) for ln in vehicle_lanes]
            last = np.array(vehicle_lanes[0].getShape())
            u = last[-1] - last[-2]
            u /= np.linalg.norm(u)
            n = np.array([-u[1], u[0]])
            w = vehicle_lanes[0].getWidth() / 2
            a = ends[0] - n * w - u * 0.5
            b = ends[-1] + n * w - u * 0.5
            markings.append(polyline_to_polygon(np.array([a, b]), 0.4))
    for lane in parking_lanes:
        # Bay separators every 6.5 m along the parking lane.
        shape = np.array(lane.getShape())
        a, b = shape[0], shape[-1]
        u = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
        n = np.array([-u[1], u[0]]) * lane.getWidth() / 2
        s = 20.0
        while s < lane.getLength() - 8:
            c = a + u * s
            markings.append(polyline_to_polygon(np.array([c - n, c + n]), 0.12))
            s += 6.5
        markings.append(
            polyline_to_polygon(_offset_polyline(shape, -lane.getWidth() / 2 + 0.1), 0.12)
        )
    zebra = []
    for shape in crossings:
        for a, b in itertools.pairwise(shape):
            length = float(np.linalg.norm(b - a))
            u = (b - a) / max(length, 1e-9)
            n = np.array([-u[1], u[0]])
            s = 0.3
            while s + 0.5 <= length:
                c = a + u * (s + 0.25)
                zebra.append(polyline_to_polygon(np.array([c - n * 1.8, c + n * 1.8]), 0.5))
                s += 1.0
    return (
        [("road", p) for p in road]
        + [("sidewalk", p) for p in sidewalks]
        + [("parking", p) for p in parking]
        + [("crossing", p) for p in zebra]
        + [("marking", p) for p in markings]
    )


def _parking_bays(net, spec: IntersectionSpec, arms: dict[str, ArmEdges]) -> list[ParkingBay]:
    bays = []
    if not spec.parking:
        return bays
    for name, arm in arms.items():
        edge = net.getEdge(arm.outgoing)
        lane = next(ln for ln in edge.getLanes() if ln.allows(PARKED_CLASS))
        start, end = 20.0, min(lane.getLength() - 10.0, 20.0 + 6.5 * 10)
        if end - start < 13:
            continue
        bays.append(
            ParkingBay(
                f"park_{name}",
                lane.getID(),
                start,
                end,
                int((end - start) // 6.5),
                tuple(tuple(p) for p in lane.getShape()),
            )
        )
    return bays


def build_network(spec: IntersectionSpec, folder: Path) -> Network:
    """Build the junction of `spec` into `folder` and read it back."""
    import sumolib

    template = get_template(spec.template)
    folder.mkdir(parents=True, exist_ok=True)
    arms = _write_plain_xml(spec, template, folder)
    net_file = _run_netconvert(spec, folder)
    net = sumolib.net.readNet(str(net_file), withInternal=True, withPedestrianConnections=True)
    bays = _parking_bays(net, spec, arms)
    additional = None  # parked vehicles stop on their lane: no additional file needed
    surfaces = _surfaces(net)
    log.debug("built %s: %d surfaces, %d parking bays", net_file, len(surfaces), len(bays))
    return Network(
        net_file=net_file,
        template=template,
        arms=arms,
        parking=bays,
        additional_file=additional,
        surfaces=surfaces,
        extent=spec.approach_length_m,
        has_sidewalks=spec.sidewalk_width_m > 0,
    )
