"""Ban geometry: zone parsing and validation, a spatial index, and the pure position checks.

Pure code: no Flask, no database, no clock (time is always a parameter).

Coordinates: GeoJSON order is [lon, lat] (WGS84). Every metric step (distances, buffers,
extents, circles) happens in RD New (EPSG:28992, metres); degrees are never compared with
metres. Positions handed to the checks are RD New ``(x, y)`` tuples, see :func:`to_rd`.

The checks answer three questions for the service layer:

- :func:`judge_zone`: is a perpetrator fix inside a location-ban zone, and is that certain
  given the fix's accuracy?
- :func:`judge_proximity`: how close is the perpetrator to the victim (contact ban), and at
  which level (violation / warning / clear)?
- :func:`next_armed_state`: given the previous debounce state of one (ban, kind), does this
  fix raise a new alarm, go onto the open alarm's timeline, or re-arm? GPS jitter across a
  border yields one alarm, not one per fix.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import shapely  # type: ignore[import-untyped,unused-ignore]
from pyproj import Transformer
from pyproj.transformer import TransformerGroup
from shapely.geometry import MultiPolygon, Point, Polygon  # type: ignore[import-untyped,unused-ignore]
from shapely.validation import explain_validity  # type: ignore[import-untyped,unused-ignore]

# --------------------------------------------------------------------------------------------
# Projection
# --------------------------------------------------------------------------------------------

# Transformer objects are thread-safe since pyproj 3.1, so one module-level pair serves all
# workers. always_xy: (lon, lat) in, (x, y) out, whatever the CRS axis order says.
# Built from the chosen operation's pipeline: a Transformer made with from_crs re-runs the
# operation search (~50 ms) the first time each new thread uses it, and the threaded server
# runs every request on a new thread; a pipeline costs under a millisecond there.
_TO_RD = Transformer.from_pipeline(
    TransformerGroup(4326, 28992, always_xy=True).transformers[0].definition
)
_TO_WGS84 = Transformer.from_pipeline(
    TransformerGroup(28992, 4326, always_xy=True).transformers[0].definition
)

RDPoint = tuple[float, float]
"""A position in RD New metres: (x, y)."""

MAX_ZONE_EXTENT_M = 50_000.0
"""A zone's bounding-box diagonal (RD New) may not exceed this: larger is almost surely a typo."""

CIRCLE_QUAD_SEGS = 32
"""Segments per quarter circle: a 128-gon, at most 0.03 % of the radius inside the true circle."""

# RD New is a stereographic projection centred on Amersfoort: within a few hundred kilometres
# its scale error stays far below a metre per kilometre. Zones elsewhere would get distorted
# metres, and usually mean swapped [lat, lon]; they are refused.
RD_USABLE_LON = (1.0, 10.0)
RD_USABLE_LAT = (49.0, 55.0)


def to_rd(lon: float, lat: float) -> RDPoint:
    """WGS84 lon/lat (degrees) -> RD New (x, y) metres; ValueError if out of range."""
    _check_lonlat(lon, lat)
    x, y = _TO_RD.transform(lon, lat)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"({lon}, {lat}) cannot be projected to RD New")
    return (float(x), float(y))


def to_wgs84(x: float, y: float) -> tuple[float, float]:
    """RD New (x, y) metres -> WGS84 (lon, lat) degrees."""
    lon, lat = _TO_WGS84.transform(x, y)
    return (float(lon), float(lat))


def distance_m(a: RDPoint, b: RDPoint) -> float:
    """Straight-line distance in metres between two RD New points."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _check_lonlat(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError("coordinates must be finite numbers")
    if not -180.0 <= lon <= 180.0:
        raise ValueError(f"longitude {lon} is outside -180..180")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude {lat} is outside -90..90")


def _project_geometry(geom: Any) -> Any:
    """A shapely geometry in lon/lat -> the same geometry in RD New metres."""

    def fn(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        x, y = _TO_RD.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


# --------------------------------------------------------------------------------------------
# Zones: parsing and validation
# --------------------------------------------------------------------------------------------


class GeometryInvalid(ValueError):
    """A zone that cannot be used; ``field`` names the exact sub-field (e.g. zones.2.radius_m)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


ZoneKind = Literal["polygon", "multipolygon", "circle"]


@dataclass(frozen=True, eq=False)
class Zone:
    """A validated zone: the GeoJSON to show on a map and the projected geometry to check.

    ``geojson`` is a normalised copy of the input (floats, [lon, lat], no altitude); circles
    keep their Point + radius_m form. ``geometry_rd`` is a shapely Polygon/MultiPolygon in RD
    New metres (a circle is its centre buffered by the radius).
    """

    kind: ZoneKind
    geojson: Mapping[str, Any]
    geometry_rd: Any
    radius_m: float | None = None
    centre_rd: RDPoint | None = None

    @property
    def area_m2(self) -> float:
        """The zone's area in square metres."""
        return float(self.geometry_rd.area)


def _join(prefix: str, *parts: object) -> str:
    return ".".join([prefix, *map(str, parts)] if prefix else list(map(str, parts)))


def _number(value: object, field: str, what: str) -> float:
    # bool is an int subclass; true/false are not coordinates.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GeometryInvalid(field, f"{what} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise GeometryInvalid(field, f"{what} must be a finite number")
    return number


def _position(value: object, field: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise GeometryInvalid(field, "a position must be [lon, lat]")
    lon = _number(value[0], field, "longitude")
    lat = _number(value[1], field, "latitude")
    if len(value) == 3:
        _number(value[2], field, "altitude")
    if not -180.0 <= lon <= 180.0:
        raise GeometryInvalid(field, f"longitude {lon} is outside -180..180")
    if not -90.0 <= lat <= 90.0:
        raise GeometryInvalid(field, f"latitude {lat} is outside -90..90")
    if not (
        RD_USABLE_LON[0] <= lon <= RD_USABLE_LON[1] and RD_USABLE_LAT[0] <= lat <= RD_USABLE_LAT[1]
    ):
        hint = ""
        if (
            RD_USABLE_LON[0] <= lat <= RD_USABLE_LON[1]
            and RD_USABLE_LAT[0] <= lon <= RD_USABLE_LAT[1]
        ):
            hint = "; GeoJSON order is [lon, lat], these look swapped"
        raise GeometryInvalid(
            field, f"[{lon}, {lat}] is outside the area around the Netherlands{hint}"
        )
    return (lon, lat)


def _ring(value: object, field: str) -> list[tuple[float, float]]:
    if not isinstance(value, list | tuple):
        raise GeometryInvalid(field, "a ring must be a list of [lon, lat] positions")
    if len(value) < 4:
        raise GeometryInvalid(field, f"a ring needs at least 4 positions, got {len(value)}")
    ring = [_position(p, _join(field, i)) for i, p in enumerate(value)]
    if ring[0] != ring[-1]:
        raise GeometryInvalid(
            field, "the ring is not closed: its last position must equal its first"
        )
    return ring


def _polygon_rings(value: object, field: str) -> list[list[tuple[float, float]]]:
    if not isinstance(value, list | tuple) or not value:
        raise GeometryInvalid(field, "a polygon must be a non-empty list of rings")
    return [_ring(r, _join(field, i)) for i, r in enumerate(value)]


def _check_valid(geom: Any, field: str, what: str) -> None:
    if not geom.is_valid:
        raise GeometryInvalid(field, f"{what} is not a valid polygon: {explain_validity(geom)}")


def _check_extent(geom_rd: Any, field: str) -> None:
    minx, miny, maxx, maxy = geom_rd.bounds
    diagonal = math.hypot(maxx - minx, maxy - miny)
    if not math.isfinite(diagonal):
        raise GeometryInvalid(field, "the zone cannot be projected to RD New")
    if diagonal > MAX_ZONE_EXTENT_M:
        raise GeometryInvalid(
            field,
            f"the zone is {diagonal / 1000:.1f} km across (bounding-box diagonal); "
            f"at most {MAX_ZONE_EXTENT_M / 1000:.0f} km is allowed",
        )


def parse_zone(geojson: object, field: str) -> Zone:
    """Validate one GeoJSON zone (Polygon, MultiPolygon, or Point + radius_m) into a Zone.

    ``field`` is the caller's path to this zone (e.g. "zones.2"); a GeometryInvalid names the
    exact sub-field under it: ``.type``, ``.radius_m``, ``.coordinates`` or, for one ring or
    position, ``.coordinates.<ring>[.<position>]`` (MultiPolygon: ``.coordinates.<polygon>...``).
    Unclosed rings are refused rather than closed: a silently changed zone is not what the
    judge ordered.
    """
    if not isinstance(geojson, Mapping):
        raise GeometryInvalid(field, "a zone must be a GeoJSON geometry object")
    type_field = _join(field, "type")
    coords_field = _join(field, "coordinates")
    radius_field = _join(field, "radius_m")
    kind = geojson.get("type")
    if kind is None:
        raise GeometryInvalid(type_field, "type is required")
    if kind not in ("Polygon", "MultiPolygon", "Point"):
        raise GeometryInvalid(
            type_field, f"type must be Polygon, MultiPolygon or Point (with radius_m), not {kind!r}"
        )
    if "coordinates" not in geojson:
        raise GeometryInvalid(coords_field, "coordinates are required")
    coords = geojson["coordinates"]

    if kind == "Point":
        lon, lat = _position(coords, coords_field)
        if "radius_m" not in geojson:
            raise GeometryInvalid(radius_field, "a Point zone needs radius_m (metres)")
        radius = _number(geojson["radius_m"], radius_field, "radius_m")
        if radius <= 0:
            raise GeometryInvalid(radius_field, "radius_m must be greater than 0")
        centre = to_rd(lon, lat)
        geom_rd = Point(centre).buffer(radius, quad_segs=CIRCLE_QUAD_SEGS)
        _check_extent(geom_rd, radius_field)
        return Zone(
            kind="circle",
            geojson={"type": "Point", "coordinates": [lon, lat], "radius_m": radius},
            geometry_rd=geom_rd,
            radius_m=radius,
            centre_rd=centre,
        )

    if "radius_m" in geojson:
        raise GeometryInvalid(radius_field, "radius_m is only allowed on a Point zone")

    if kind == "Polygon":
        rings = _polygon_rings(coords, coords_field)
        geom = Polygon(rings[0], rings[1:])
        normalised: list[Any] = [[list(p) for p in r] for r in rings]
        zone_kind: ZoneKind = "polygon"
    else:
        if not isinstance(coords, list | tuple) or not coords:
            raise GeometryInvalid(
                coords_field, "a MultiPolygon must be a non-empty list of polygons"
            )
        polygons = [_polygon_rings(p, _join(coords_field, i)) for i, p in enumerate(coords)]
        for i, rings in enumerate(polygons):
            _check_valid(Polygon(rings[0], rings[1:]), _join(coords_field, i), f"polygon {i}")
        geom = MultiPolygon([(rings[0], rings[1:]) for rings in polygons])
        normalised = [[[list(p) for p in r] for r in rings] for rings in polygons]
        zone_kind = "multipolygon"

    # Validity is judged on the coordinates as drawn; projection keeps the topology.
    _check_valid(geom, coords_field, "the zone")
    geom_rd = _project_geometry(geom)
    _check_extent(geom_rd, coords_field)
    _check_valid(geom_rd, coords_field, "the zone in RD New")
    return Zone(
        kind=zone_kind,
        geojson={"type": kind, "coordinates": normalised},
        geometry_rd=geom_rd,
    )


def zone_to_geojson(zone: Zone) -> dict[str, Any]:
    """The GeoJSON to show on a map, [lon, lat]; circles stay Point + radius_m."""
    return copy.deepcopy(dict(zone.geojson))


# --------------------------------------------------------------------------------------------
# Spatial index
# --------------------------------------------------------------------------------------------

K = TypeVar("K", bound=Hashable)


def _as_point(point_rd: RDPoint) -> Any:
    x, y = float(point_rd[0]), float(point_rd[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError("an RD point must have finite coordinates")
    return Point(x, y)


def _check_metres(value: float, name: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


class BanIndex(Generic[K]):
    """Zones of many bans, indexed for fast position checks; build once, query often.

    An STRtree over the zone geometries finds candidates by bounding box in about log(n);
    the geometries are prepared (``shapely.prepare``, Shapely 2's in-place form of
    ``shapely.prepared.prep``, usable by vectorised predicates) so a point-in-polygon test on
    a 2,000-vertex polygon costs an indexed lookup, not a walk around every edge.
    Keys are any hashables, e.g. (ban_id, zone_index); results keep insertion order
    (``within_distance`` sorts by distance).
    """

    def __init__(self, zones: Iterable[tuple[K, Zone]]) -> None:
        items = list(zones)
        self._keys: list[K] = [k for k, _ in items]
        self._zones: dict[K, Zone] = {}
        self._position: dict[K, int] = {}
        for i, (key, zone) in enumerate(items):
            if key in self._zones:
                raise ValueError(f"duplicate zone key {key!r}")
            self._zones[key] = zone
            self._position[key] = i
        self._geoms: np.ndarray[Any, Any] = np.empty(len(items), dtype=object)
        self._geoms[:] = [z.geometry_rd for _, z in items]
        shapely.prepare(self._geoms)
        self._boundaries: np.ndarray[Any, Any] = shapely.boundary(self._geoms)
        self._tree = shapely.STRtree(self._geoms)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._zones

    def zone(self, key: K) -> Zone:
        """The zone stored under key (KeyError if absent)."""
        return self._zones[key]

    def _within(self, point: Any, d: float) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Indices (ascending) and distances of zones within d metres of point."""
        x, y = point.x, point.y
        idx = np.sort(self._tree.query(shapely.box(x - d, y - d, x + d, y + d)))
        if idx.size == 0:
            return idx, np.empty(0)
        geoms = self._geoms[idx]
        hit = shapely.intersects(geoms, point) if d == 0 else shapely.dwithin(geoms, point, d)
        idx, geoms = idx[hit], geoms[hit]
        return idx, shapely.distance(geoms, point)

    def containing(self, point_rd: RDPoint, buffer_m: float = 0.0) -> list[K]:
        """Keys of zones containing the point (border included), or within buffer_m of it."""
        idx, _ = self._within(_as_point(point_rd), _check_metres(buffer_m, "buffer_m"))
        return [self._keys[i] for i in idx]

    def within_distance(self, point_rd: RDPoint, distance_m: float) -> list[tuple[K, float]]:
        """(key, metres from the point to the zone; 0 inside) for zones within distance_m."""
        idx, dists = self._within(_as_point(point_rd), _check_metres(distance_m, "distance_m"))
        order = np.argsort(dists, kind="stable")
        return [(self._keys[idx[j]], float(dists[j])) for j in order]

    def pairs_within(
        self, points: np.ndarray[Any, Any], accuracies: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """For many fixes at once: (fix index, zone index, distance) of every zone within each
        fix's accuracy (one tree query for the whole batch; what judge_zone does per fix)."""
        if len(points) == 0 or len(self._keys) == 0:
            empty = np.empty(0, dtype=np.intp)
            return empty, empty, np.empty(0)
        fix_idx, zone_idx = self._tree.query(points, predicate="dwithin", distance=accuracies)
        dists = shapely.distance(self._geoms[zone_idx], points[fix_idx])
        return fix_idx, zone_idx, dists

    def border_distance(self, key: K, point_rd: RDPoint) -> float:
        """Metres from the point to the zone's border (outer and hole rings), unsigned."""
        return float(shapely.distance(self._boundaries[self._position[key]], _as_point(point_rd)))

    def signed_distance(self, key: K, point_rd: RDPoint) -> float:
        """Metres outside the zone's border: positive outside, negative inside, 0 on it."""
        point = _as_point(point_rd)
        i = self._position[key]
        if shapely.intersects(self._geoms[i], point):
            return -float(shapely.distance(self._boundaries[i], point))
        return float(shapely.distance(self._geoms[i], point))


# --------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------

Level = Literal["violation", "warning", "clear"]
LEVELS: tuple[Level, ...] = ("violation", "warning", "clear")


@dataclass(frozen=True)
class ZoneJudgement(Generic[K]):
    """One zone's verdict on one fix.

    inside: the fix (its centre) is inside the zone or on its border.
    uncertain: the accuracy circle crosses the border (inside but reaching out, or outside
    but reaching in). distance_m: metres from the fix to the zone (0 when inside).
    border_distance_m: metres from the fix to the zone's border (unsigned).
    """

    key: K
    inside: bool
    uncertain: bool
    distance_m: float
    border_distance_m: float

    @property
    def level(self) -> Level:
        """violation when inside; warning when only the accuracy circle touches; else clear."""
        if self.inside:
            return "violation"
        return "warning" if self.uncertain else "clear"

    @property
    def outside_by_m(self) -> float:
        """Signed metres outside the border (negative inside): pass to next_armed_state."""
        return -self.border_distance_m if self.inside else self.distance_m


def judge_zone(
    point_rd: RDPoint,
    accuracy_m: float,
    index: BanIndex[K],
    *,
    watch: Iterable[K] = (),
) -> list[ZoneJudgement[K]]:
    """Judge a perpetrator fix against every zone its accuracy circle reaches.

    A zone whose border the fix is on counts as inside. Zones the accuracy circle touches
    while the fix itself is outside come back with inside=False, uncertain=True (level
    "warning": a fact for the dispatcher, not a violation). Keys in ``watch`` (e.g. zones
    with an open alarm, which need a distance to decide on re-arming) are always judged,
    level "clear" when out of reach; watched keys no longer in the index are skipped.
    Plausibility of the fix (GPS jumps, absurd accuracy) is the caller's decision.
    """
    accuracy = _check_metres(accuracy_m, "accuracy_m")
    point = _as_point(point_rd)
    idx, dists = index._within(point, accuracy)
    result: list[ZoneJudgement[K]] = []
    seen: set[K] = set()
    for i, d in zip(idx.tolist(), dists.tolist(), strict=True):
        key = index._keys[i]
        seen.add(key)
        if d == 0.0:
            border = float(shapely.distance(index._boundaries[i], point))
            result.append(ZoneJudgement(key, True, border < accuracy, 0.0, border))
        else:
            result.append(ZoneJudgement(key, False, True, float(d), float(d)))
    for key in watch:
        if key in seen or key not in index:
            continue
        seen.add(key)
        outside = index.signed_distance(key, point_rd)
        if outside <= 0:  # cannot happen for keys outside the query, but stay exact
            result.append(ZoneJudgement(key, True, -outside < accuracy, 0.0, -outside))
        else:
            result.append(ZoneJudgement(key, False, outside <= accuracy, outside, outside))
    return result


def judge_zones_batch(
    points_rd: list[RDPoint], accuracies_m: list[float], index: BanIndex[K]
) -> list[list[ZoneJudgement[K]]]:
    """judge_zone for many fixes with one vectorised tree query (the intake path gets batches
    of up to 1000 positions); same verdicts as calling judge_zone per fix, without `watch`."""
    result: list[list[ZoneJudgement[K]]] = [[] for _ in points_rd]
    if not points_rd or len(index) == 0:
        return result
    accuracies = np.array([_check_metres(a, "accuracy_m") for a in accuracies_m], dtype=float)
    coords = np.array(points_rd, dtype=float)
    if not np.isfinite(coords).all():
        raise ValueError("an RD point must have finite coordinates")
    points = shapely.points(coords)
    fix_idx, zone_idx, dists = index.pairs_within(points, accuracies)
    inside = dists == 0.0
    borders = np.zeros(len(dists))
    if inside.any():
        borders[inside] = shapely.distance(
            index._boundaries[zone_idx[inside]], points[fix_idx[inside]]
        )
    order = np.lexsort((zone_idx, fix_idx))
    for j in order.tolist():
        f, z, d = int(fix_idx[j]), int(zone_idx[j]), float(dists[j])
        key = index._keys[z]
        if d == 0.0:
            border = float(borders[j])
            result[f].append(ZoneJudgement(key, True, bool(border < accuracies[f]), 0.0, border))
        else:
            result[f].append(ZoneJudgement(key, False, True, d, d))
    return result


def to_rd_many(lons: list[float], lats: list[float]) -> list[RDPoint]:
    """to_rd for many positions in one call."""
    for lon, lat in zip(lons, lats, strict=True):
        _check_lonlat(lon, lat)
    xs, ys = _TO_RD.transform(np.array(lons, dtype=float), np.array(lats, dtype=float))
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


@dataclass(frozen=True)
class ProximityJudgement:
    """Perpetrator-to-victim distance against a contact ban.

    distance_m: metres between the two fixes. level: violation (<= ban distance), warning
    (<= ban distance + warning margin) or clear. uncertain: the combined accuracy makes the
    level ambiguous (distance +- combined accuracy falls in more than one level).
    min/max_distance_m: the distance range the accuracies allow (never below 0).
    """

    distance_m: float
    level: Level
    uncertain: bool
    ban_distance_m: float
    warning_distance_m: float
    combined_accuracy_m: float
    min_distance_m: float
    max_distance_m: float

    @property
    def outside_by_m(self) -> float:
        """Metres beyond the outermost alarm border (warning distance): for next_armed_state."""
        return self.distance_m - self.warning_distance_m


def _proximity_level(distance: float, ban: float, warning: float) -> Level:
    if distance <= ban:
        return "violation"
    if distance <= warning:
        return "warning"
    return "clear"


def judge_proximity(
    perp_rd: RDPoint,
    perp_accuracy_m: float,
    victim_rd: RDPoint,
    victim_accuracy_m: float,
    distance_m: float,
    warning_margin_m: float,
) -> ProximityJudgement:
    """Judge a contact ban: the distance between perpetrator and victim and its level."""
    perp_acc = _check_metres(perp_accuracy_m, "perp_accuracy_m")
    victim_acc = _check_metres(victim_accuracy_m, "victim_accuracy_m")
    ban = _check_metres(distance_m, "distance_m")
    warning = ban + _check_metres(warning_margin_m, "warning_margin_m")
    _as_point(perp_rd)
    _as_point(victim_rd)
    d = math.hypot(perp_rd[0] - victim_rd[0], perp_rd[1] - victim_rd[1])
    combined = perp_acc + victim_acc
    low, high = max(0.0, d - combined), d + combined
    level = _proximity_level(d, ban, warning)
    uncertain = _proximity_level(low, ban, warning) != _proximity_level(high, ban, warning)
    return ProximityJudgement(
        distance_m=d,
        level=level,
        uncertain=uncertain,
        ban_distance_m=ban,
        warning_distance_m=warning,
        combined_accuracy_m=combined,
        min_distance_m=low,
        max_distance_m=high,
    )


class ArmStatus(StrEnum):
    """Debounce status of one (ban, kind); fits the ban_watches.state column."""

    ARMED = "armed"  # no open alarm: the next violation raises one
    WARNED = "warned"  # a warning alarm is open
    FIRED = "fired"  # a violation alarm is open


class Action(StrEnum):
    """What the service does with this fix."""

    NONE = "none"  # nothing beyond storing the position (always stored: it is evidence)
    RAISE = "raise"  # open a new violation alarm, then store its id with ArmState.with_alarm
    RAISE_WARNING = "raise_warning"  # open a new warning alarm, then store its id
    APPEND = "append"  # add the fix to the open alarm's timeline: previous.alarm_id


@dataclass(frozen=True)
class ArmState:
    """Debounce state of one (ban, kind): a status, the open alarm's id, and whether the fixes
    have since gone beyond the hysteresis (`away`: a fix back inside is a re-entry)."""

    status: ArmStatus = ArmStatus.ARMED
    alarm_id: int | None = None
    away: bool = False

    def with_alarm(self, alarm_id: int) -> ArmState:
        """This state with the id of the alarm the service just opened."""
        return ArmState(self.status, alarm_id, self.away)

    @property
    def stored(self) -> str:
        """The ban_watches.state value ("fired", "fired:away", ...; at most 16 characters)."""
        return f"{self.status.value}:away" if self.away else self.status.value

    @classmethod
    def load(cls, status: str, alarm_id: int | None) -> ArmState:
        """Rebuild from stored columns; an unknown status loads as armed (never silences)."""
        name, _, flag = status.partition(":")
        try:
            parsed = ArmStatus(name)
        except ValueError:
            return cls()
        if parsed is ArmStatus.ARMED or flag not in ("", "away"):
            return cls()
        return cls(parsed, alarm_id, flag == "away")


ARMED = ArmState()


def next_armed_state(
    previous: ArmState,
    level: str,
    distance_to_border_m: float,
    hysteresis_m: float = 25.0,
    *,
    accuracy_m: float = 0.0,
) -> tuple[ArmState, Action]:
    """Debounce one (ban, kind): the next state and what to do with this fix.

    ``level`` is the fix's level ("violation", "warning", "clear"); ``distance_to_border_m``
    is how far the fix is beyond the outermost alarm border, signed, positive outside
    (ZoneJudgement.outside_by_m / ProximityJudgement.outside_by_m).

    Rules:
    - armed: violation -> RAISE (fired); warning -> RAISE_WARNING (warned); clear -> NONE.
    - warned: violation -> RAISE (fired; approaching further is a new, more urgent alarm,
      raised once); otherwise as fired below.
    - fired: every fix is APPENDed to the open alarm; no new alarm, however often he leaves
      and comes back. Only resolving the alarm re-arms (:func:`rearm_on_resolve`): a breach
      still going on then raises a new alarm. So one open violation alarm per ban, whatever
      a tracker (or an attacker holding one) sends.
    - warned/fired and clear at least ``hysteresis_m`` (plus ``accuracy_m``, so a poor fix
      cannot count) beyond the border: ``away``; the next fix within the border again is a
      re-entry (:func:`is_reentry`), counted on the open alarm. GPS jitter of a few metres
      across a border is neither.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if math.isnan(distance_to_border_m):
        raise ValueError("distance_to_border_m must be a number")
    hysteresis = _check_metres(hysteresis_m, "hysteresis_m")
    accuracy = _check_metres(accuracy_m, "accuracy_m")

    if previous.status is ArmStatus.ARMED:
        if level == "violation":
            return ArmState(ArmStatus.FIRED), Action.RAISE
        if level == "warning":
            return ArmState(ArmStatus.WARNED), Action.RAISE_WARNING
        return ARMED, Action.NONE

    if level == "violation" and previous.status is ArmStatus.WARNED:
        return ArmState(ArmStatus.FIRED), Action.RAISE
    if level != "clear":
        return ArmState(previous.status, previous.alarm_id, False), Action.APPEND
    if distance_to_border_m - accuracy >= hysteresis:
        return ArmState(previous.status, previous.alarm_id, True), Action.APPEND
    return previous, Action.APPEND


def is_reentry(previous: ArmState, state: ArmState) -> bool:
    """True when this step brought an alarm's episode back within its border after he had left
    it by more than the hysteresis."""
    return previous.away and not state.away and state.alarm_id == previous.alarm_id is not None


def rearm_on_resolve(state: ArmState, resolved_alarm_id: int) -> ArmState:
    """Re-arm when the alarm this state holds is resolved; a stale alarm's resolve changes
    nothing (e.g. the warning alarm that a violation alarm has since replaced)."""
    if state.status is not ArmStatus.ARMED and state.alarm_id == resolved_alarm_id:
        return ARMED
    return state


# --------------------------------------------------------------------------------------------
# Plausibility: a fix that would need more than 250 km/h from the one before
# --------------------------------------------------------------------------------------------

MAX_PLAUSIBLE_KMH = 250.0
"""Faster than any tracker wearer travels on Dutch roads: a jump beyond it is a bad fix (or a
forged one), stored and shown but never an alarm by itself."""
PLAUSIBILITY_SLACK_M = 200.0
"""At most this much of two fixes' stated accuracy is taken off their distance (GPS noise on
two poor fixes is not speed; a claimed huge inaccuracy does not excuse a teleport)."""


@dataclass(frozen=True)
class TimedFix:
    """A fix in RD New with its accuracy and device time (for plausibility)."""

    point_rd: RDPoint
    accuracy_m: float
    at: dt.datetime


def implied_speed_kmh(a: TimedFix, b: TimedFix) -> float:
    """The speed needed to get from one fix to the other, in km/h.

    The distance less both accuracies (together at most PLAUSIBILITY_SLACK_M), over the time
    between the fix times, taken as at least one second (devices stamp whole seconds)."""
    (ax, ay), (bx, by) = a.point_rd, b.point_rd
    return _speed(ax, ay, a.accuracy_m, 0.0, bx, by, b.accuracy_m, (b.at - a.at).total_seconds())


def plausibility_chain(
    previous: TimedFix | None, fixes: list[TimedFix], max_kmh: float = MAX_PLAUSIBLE_KMH
) -> list[float | None]:
    """For fixes in time order: the implied speed of each implausible one, None for the others.

    The first fix is compared with the device's last stored fix (`previous`), then each with
    the fix before it and with the last plausible one; it is plausible if either is reachable.
    So a single bad jump is the only implausible fix (the return to where he was is believed),
    and a device that really is somewhere new is believed from its second fix there: nothing
    can silence a tracker for good. Across requests only the stored fix is known, so a return
    sent in the next request after a bad jump counts as implausible too (one fix later).
    """
    if not fixes:
        return []
    epoch = fixes[0].at
    return implausible_speeds(
        previous,
        np.array([f.point_rd[0] for f in fixes], dtype=float),
        np.array([f.point_rd[1] for f in fixes], dtype=float),
        np.array([f.accuracy_m for f in fixes], dtype=float),
        np.array([(f.at - epoch).total_seconds() for f in fixes], dtype=float),
        epoch,
        max_kmh,
    )


def implausible_speeds(
    previous: TimedFix | None,
    xs: Any,
    ys: Any,
    accuracies: Any,
    seconds: Any,
    epoch: dt.datetime,
    max_kmh: float = MAX_PLAUSIBLE_KMH,
) -> list[float | None]:
    """`plausibility_chain` on arrays (RD x, y, accuracy, seconds since `epoch`), for a whole
    batch at once: the speed from each fix's predecessor is one vectorised step; only the few
    implausible fixes are looked at one by one."""
    n = len(xs)
    if n == 0:
        return []
    px, py, pacc, pt = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    px[1:], py[1:], pacc[1:], pt[1:] = xs[:-1], ys[:-1], accuracies[:-1], seconds[:-1]
    if previous is not None:
        px[0], py[0] = previous.point_rd
        pacc[0], pt[0] = previous.accuracy_m, (previous.at - epoch).total_seconds()
    speed = _speeds(px, py, pacc, pt, xs, ys, accuracies, seconds)
    if previous is None:
        speed[0] = 0.0
    out: list[float | None] = [None] * n
    suspect = np.flatnonzero(speed > max_kmh)
    if len(suspect) == 0:
        return out
    # One by one from the first suspect on: a fix reachable from the last plausible fix is
    # plausible after all (the return from a single bad jump).
    first = int(suspect[0])
    ref: tuple[float, float, float, float] | None = None  # the last plausible fix
    if first > 0:
        j = first - 1
        ref = (float(xs[j]), float(ys[j]), float(accuracies[j]), float(seconds[j]))
    elif previous is not None:
        ref = (float(px[0]), float(py[0]), float(pacc[0]), float(pt[0]))
    for i in range(first, n):
        here = (float(xs[i]), float(ys[i]), float(accuracies[i]), float(seconds[i]))
        s = float(speed[i])
        if s > max_kmh and ref is not None:
            s = min(s, _speed(*ref, *here))
        if s > max_kmh:
            out[i] = s
        else:
            ref = here
    return out


def _speed(
    ax: float, ay: float, aacc: float, at: float, bx: float, by: float, bacc: float, bt: float
) -> float:
    """implied_speed_kmh on plain numbers."""
    slack = min(max(aacc, 0.0) + max(bacc, 0.0), PLAUSIBILITY_SLACK_M)
    return max(math.hypot(ax - bx, ay - by) - slack, 0.0) / max(abs(bt - at), 1.0) * 3.6


def _speeds(ax: Any, ay: Any, aacc: Any, at: Any, bx: Any, by: Any, bacc: Any, bt: Any) -> Any:
    """implied_speed_kmh, elementwise on arrays."""
    d = np.hypot(ax - bx, ay - by)
    slack = np.minimum(np.maximum(aacc, 0.0) + np.maximum(bacc, 0.0), PLAUSIBILITY_SLACK_M)
    return np.maximum(d - slack, 0.0) / np.maximum(np.abs(bt - at), 1.0) * 3.6


# --------------------------------------------------------------------------------------------
# The victim's reference point for a contact ban
# --------------------------------------------------------------------------------------------

MAX_FUTURE_SKEW_S = 60.0
"""A fix stamped further in the future than this is not trusted as current (clock skew)."""


@dataclass(frozen=True)
class VictimFix:
    """The victim device's latest fix (RD New); internal only, never shown to a perpetrator."""

    point_rd: RDPoint
    accuracy_m: float
    fix_at: dt.datetime


@dataclass(frozen=True)
class VictimReference:
    """The point a contact ban is measured from, and where it came from.

    source: "device" (a current device fix) or "home" (the registered home point).
    age_s: age of the device fix used; None for home (a registered point, not a fix).
    device_fix_age_s: age of the device's latest fix when it was too old (for the
    dispatcher: "victim device silent for 2 h, measured from home"); None otherwise.
    Carries the victim's position: for the control room only.
    """

    point_rd: RDPoint
    accuracy_m: float
    source: Literal["device", "home"]
    age_s: float | None
    device_fix_age_s: float | None = None


def _age_s(fix_at: dt.datetime, now: dt.datetime) -> float:
    if fix_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return (now - fix_at).total_seconds()


def victim_position_is_current(
    victim_fix_at: dt.datetime | None, now: dt.datetime, max_age_s: float = 300.0
) -> bool:
    """True when the victim's fix is at most max_age_s old (and not from the future)."""
    if victim_fix_at is None:
        return False
    age = _age_s(victim_fix_at, now)
    return -MAX_FUTURE_SKEW_S <= age <= max_age_s


def victim_reference(
    fix: VictimFix | None,
    home_rd: RDPoint | None,
    now: dt.datetime,
    max_age_s: float = 300.0,
) -> VictimReference | None:
    """A current device fix, else the registered home point, else None (cannot judge).

    Never compares with a stale device position: that is how trackers miss an approach.
    """
    stale_age: float | None = None
    if fix is not None:
        age = _age_s(fix.fix_at, now)
        if victim_position_is_current(fix.fix_at, now, max_age_s):
            return VictimReference(fix.point_rd, fix.accuracy_m, "device", max(0.0, age))
        stale_age = age
    if home_rd is not None:
        return VictimReference(home_rd, 0.0, "home", None, stale_age)
    return None


__all__ = [
    "ARMED",
    "Action",
    "ArmState",
    "ArmStatus",
    "BanIndex",
    "MAX_PLAUSIBLE_KMH",
    "TimedFix",
    "GeometryInvalid",
    "ProximityJudgement",
    "RDPoint",
    "VictimFix",
    "VictimReference",
    "Zone",
    "ZoneJudgement",
    "distance_m",
    "implausible_speeds",
    "implied_speed_kmh",
    "is_reentry",
    "judge_proximity",
    "judge_zone",
    "next_armed_state",
    "parse_zone",
    "plausibility_chain",
    "rearm_on_resolve",
    "to_rd",
    "to_wgs84",
    "victim_position_is_current",
    "victim_reference",
    "zone_to_geojson",
]
