"""Ban geometry: zone validation, containment, proximity, debounce and the victim's reference.

Property tests check the RD New metric work against an independent great-circle (haversine)
computation on plain lon/lat, and the STRtree index against a brute-force loop.
"""

import datetime as dt
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from aware.risk import geometry
from aware.risk.geometry import (
    ARMED,
    Action,
    ArmState,
    ArmStatus,
    BanIndex,
    GeometryInvalid,
    VictimFix,
    Zone,
    distance_m,
    is_reentry,
    judge_proximity,
    judge_zone,
    next_armed_state,
    parse_zone,
    rearm_on_resolve,
    to_rd,
    to_wgs84,
    victim_position_is_current,
    victim_reference,
    zone_to_geojson,
)

UTRECHT = (5.12, 52.09)  # lon, lat
UTRECHT_RD = to_rd(*UTRECHT)
NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
EARTH_RADIUS_M = 6_371_008.8


# ----------------------------------------------------------------------------------------------
# Independent spherical helpers (no pyproj): the reference the RD New work is checked against
# ----------------------------------------------------------------------------------------------


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def destination(lon: float, lat: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    """The point dist_m from (lon, lat) along bearing_deg on the sphere."""
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    d = dist_m / EARTH_RADIUS_M
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(l2), math.degrees(p2)


# ----------------------------------------------------------------------------------------------
# Fixture builders (zones drawn in RD metres around Utrecht, handed over as GeoJSON lon/lat)
# ----------------------------------------------------------------------------------------------


def ring_from_rd(points_rd: list[tuple[float, float]]) -> list[list[float]]:
    ring = [list(to_wgs84(x, y)) for x, y in points_rd]
    return [*ring, ring[0]]


def square(cx: float, cy: float, half: float) -> list[tuple[float, float]]:
    return [
        (cx - half, cy - half),
        (cx + half, cy - half),
        (cx + half, cy + half),
        (cx - half, cy + half),
    ]


def polygon_geojson(*rings_rd: list[tuple[float, float]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [ring_from_rd(r) for r in rings_rd]}


def circle_geojson(lon: float, lat: float, radius_m: float) -> dict[str, object]:
    return {"type": "Point", "coordinates": [lon, lat], "radius_m": radius_m}


def star_rd(
    cx: float, cy: float, radii: list[float], steps: list[float]
) -> list[tuple[float, float]]:
    """A star-shaped (hence simple) polygon: vertices at increasing angles round the centre."""
    total = sum(steps)
    angles = [2 * math.pi * sum(steps[: i + 1]) / total for i in range(len(steps))]
    return [
        (cx + r * math.cos(a), cy + r * math.sin(a)) for r, a in zip(radii, angles, strict=True)
    ]


def rd_offset(dx: float, dy: float = 0.0) -> tuple[float, float]:
    return (UTRECHT_RD[0] + dx, UTRECHT_RD[1] + dy)


def invalid(geojson: object, field: str = "zones.0") -> GeometryInvalid:
    with pytest.raises(GeometryInvalid) as exc:
        parse_zone(geojson, field)
    return exc.value


VALID_RING = ring_from_rd(square(*UTRECHT_RD, 300))


# ----------------------------------------------------------------------------------------------
# Projection
# ----------------------------------------------------------------------------------------------


def test_rd_new_origin_is_the_amersfoort_tower():
    # RD New is defined so that the Onze Lieve Vrouwetoren in Amersfoort is (155000, 463000).
    x, y = to_rd(5.38720621, 52.15517440)
    assert x == pytest.approx(155_000, abs=2)
    assert y == pytest.approx(463_000, abs=2)


def test_rd_round_trip_keeps_a_position_within_a_centimetre():
    lon, lat = to_wgs84(*UTRECHT_RD)
    assert haversine_m(lon, lat, *UTRECHT) < 0.01


def test_to_rd_refuses_out_of_range_and_non_finite_coordinates():
    for lon, lat in [(181.0, 52.0), (5.0, 91.0), (math.nan, 52.0), (5.0, math.inf)]:
        with pytest.raises(ValueError):
            to_rd(lon, lat)


# ----------------------------------------------------------------------------------------------
# Zone validation: every rule names the exact field
# ----------------------------------------------------------------------------------------------


def test_valid_polygon_multipolygon_and_circle_parse():
    poly = parse_zone({"type": "Polygon", "coordinates": [VALID_RING]}, "zones.0")
    assert poly.kind == "polygon"
    assert poly.area_m2 == pytest.approx(600 * 600, rel=1e-6)

    east = ring_from_rd(square(*rd_offset(2000), 100))
    multi = parse_zone({"type": "MultiPolygon", "coordinates": [[VALID_RING], [east]]}, "zones.1")
    assert multi.kind == "multipolygon"
    assert multi.area_m2 == pytest.approx(600 * 600 + 200 * 200, rel=1e-6)

    circle = parse_zone(circle_geojson(*UTRECHT, 250), "zones.2")
    assert circle.kind == "circle"
    assert circle.radius_m == 250
    assert circle.area_m2 == pytest.approx(math.pi * 250**2, rel=1e-3)


def test_zone_that_is_not_an_object_is_refused_at_its_own_field():
    assert invalid([5.1, 52.0], "zones.3").field == "zones.3"


def test_missing_type_names_the_type_field():
    assert invalid({"coordinates": [VALID_RING]}, "zones.2").field == "zones.2.type"


@pytest.mark.parametrize("kind", ["LineString", "Feature", "polygon", 7])
def test_wrong_type_names_the_type_field(kind):
    err = invalid({"type": kind, "coordinates": [VALID_RING]}, "zones.2")
    assert err.field == "zones.2.type"
    assert "Polygon" in err.message


def test_missing_coordinates_names_the_coordinates_field():
    assert invalid({"type": "Polygon"}).field == "zones.0.coordinates"


def test_field_paths_without_a_prefix():
    assert invalid({"type": "Circle"}, "").field == "type"


@pytest.mark.parametrize(
    ("bad_position", "word"),
    [
        (["5.12", 52.09], "longitude"),
        ([5.12, None], "latitude"),
        ([True, 52.09], "longitude"),
        ([math.nan, 52.09], "finite"),
        ([5.12, math.inf], "finite"),
        ([5.12], "[lon, lat]"),
        ([5.12, 52.09, 0.0, 1.0], "[lon, lat]"),
        ("5.12,52.09", "[lon, lat]"),
    ],
)
def test_malformed_position_names_ring_and_position(bad_position, word):
    ring = [list(p) for p in VALID_RING]
    ring[2] = bad_position
    err = invalid({"type": "Polygon", "coordinates": [ring]}, "zones.2")
    assert err.field == "zones.2.coordinates.0.2"
    assert word in err.message


def test_altitude_is_accepted_and_dropped():
    ring = [[*p, 3.0] for p in VALID_RING]
    zone = parse_zone({"type": "Polygon", "coordinates": [ring]}, "zones.0")
    assert zone.geojson["coordinates"] == [VALID_RING]


def test_wrong_nesting_is_refused():
    # A ring given where the list of rings belongs: each "ring" is then one position.
    err = invalid({"type": "Polygon", "coordinates": VALID_RING})
    assert err.field == "zones.0.coordinates.0"
    assert invalid({"type": "Polygon", "coordinates": 5.1}).field == "zones.0.coordinates"
    assert invalid({"type": "Polygon", "coordinates": []}).field == "zones.0.coordinates"
    err = invalid({"type": "Polygon", "coordinates": [VALID_RING, "x"]})
    assert err.field == "zones.0.coordinates.1"


def test_ring_with_fewer_than_four_positions_is_refused():
    ring = [VALID_RING[0], VALID_RING[1], VALID_RING[0]]
    err = invalid({"type": "Polygon", "coordinates": [ring]}, "zones.4")
    assert err.field == "zones.4.coordinates.0"
    assert "at least 4" in err.message


def test_unclosed_ring_is_refused_not_closed():
    err = invalid({"type": "Polygon", "coordinates": [VALID_RING[:-1]]})
    assert err.field == "zones.0.coordinates.0"
    assert "not closed" in err.message


@pytest.mark.parametrize(
    ("position", "word"),
    [([181.0, 52.0], "longitude"), ([-180.5, 52.0], "longitude"), ([5.1, 90.5], "latitude")],
)
def test_coordinates_out_of_range_are_refused(position, word):
    err = invalid({"type": "Point", "coordinates": position, "radius_m": 100})
    assert err.field == "zones.0.coordinates"
    assert word in err.message


def test_swapped_lat_lon_is_refused_with_a_hint():
    err = invalid({"type": "Point", "coordinates": [52.09, 5.12], "radius_m": 100})
    assert err.field == "zones.0.coordinates"
    assert "swapped" in err.message


def test_zone_far_from_the_netherlands_is_refused():
    # Sydney: RD New metres would be meaningless there.
    err = invalid({"type": "Point", "coordinates": [151.2, -33.9], "radius_m": 100})
    assert err.field == "zones.0.coordinates"


def test_self_intersecting_polygon_is_refused_with_the_reason():
    x, y = UTRECHT_RD
    bowtie = [(x, y), (x + 300, y + 300), (x + 300, y), (x, y + 300)]
    err = invalid(polygon_geojson(bowtie), "zones.1")
    assert err.field == "zones.1.coordinates"
    assert "Self-intersection" in err.message


def test_hole_outside_the_shell_is_refused():
    hole = square(*rd_offset(5000), 50)
    err = invalid(polygon_geojson(square(*UTRECHT_RD, 300), hole))
    assert err.field == "zones.0.coordinates"
    assert "not a valid polygon" in err.message


def test_multipolygon_with_an_invalid_part_names_that_part():
    x, y = rd_offset(3000)
    bowtie = ring_from_rd([(x, y), (x + 300, y + 300), (x + 300, y), (x, y + 300)])
    err = invalid({"type": "MultiPolygon", "coordinates": [[VALID_RING], [bowtie]]})
    assert err.field == "zones.0.coordinates.1"
    assert "Self-intersection" in err.message


def test_multipolygon_with_overlapping_parts_is_refused():
    overlapping = ring_from_rd(square(*rd_offset(100), 300))
    err = invalid({"type": "MultiPolygon", "coordinates": [[VALID_RING], [overlapping]]})
    assert err.field == "zones.0.coordinates"
    assert invalid({"type": "MultiPolygon", "coordinates": []}).field == "zones.0.coordinates"


def test_multipolygon_position_error_names_polygon_ring_and_position():
    bad = [list(p) for p in VALID_RING]
    bad[1] = [5.12, "x"]
    err = invalid({"type": "MultiPolygon", "coordinates": [[VALID_RING], [bad]]}, "zones.5")
    assert err.field == "zones.5.coordinates.1.0.1"


def test_zone_over_50_km_across_is_refused():
    # 36 km x 36 km: a 50.9 km diagonal.
    err = invalid(polygon_geojson(square(*UTRECHT_RD, 18_000)))
    assert err.field == "zones.0.coordinates"
    assert "50 km" in err.message
    # 34 km x 34 km: a 48.1 km diagonal is fine.
    parse_zone(polygon_geojson(square(*UTRECHT_RD, 17_000)), "zones.0")


def test_circle_over_50_km_across_is_refused_on_its_radius():
    # A circle's bounding box diagonal is 2 * sqrt(2) * r: 17.6 km fits, 17.8 km does not.
    parse_zone(circle_geojson(*UTRECHT, 17_600), "zones.0")
    err = invalid(circle_geojson(*UTRECHT, 17_800))
    assert err.field == "zones.0.radius_m"


@pytest.mark.parametrize("radius", [0, -5, 0.0, math.nan, math.inf, -math.inf, "100", True, None])
def test_bad_radius_is_refused(radius):
    err = invalid(circle_geojson(*UTRECHT, radius), "zones.7")
    assert err.field == "zones.7.radius_m"


def test_point_without_radius_is_refused():
    err = invalid({"type": "Point", "coordinates": list(UTRECHT)})
    assert err.field == "zones.0.radius_m"


def test_radius_on_a_polygon_is_refused():
    err = invalid({"type": "Polygon", "coordinates": [VALID_RING], "radius_m": 50})
    assert err.field == "zones.0.radius_m"


def test_malformed_point_coordinates_are_refused():
    err = invalid({"type": "Point", "coordinates": [[5.12, 52.09]], "radius_m": 100})
    assert err.field == "zones.0.coordinates"


def test_zone_to_geojson_returns_what_the_map_drew():
    circle = parse_zone(circle_geojson(*UTRECHT, 250), "zones.0")
    assert zone_to_geojson(circle) == {
        "type": "Point",
        "coordinates": [5.12, 52.09],
        "radius_m": 250.0,
    }

    source = {"type": "Polygon", "coordinates": [[list(p) for p in VALID_RING]]}
    poly = parse_zone(source, "zones.0")
    shown = zone_to_geojson(poly)
    assert shown == source
    # Neither the caller's input nor the returned copy can change the stored zone.
    shown["coordinates"][0][0][0] = 0.0
    source["coordinates"][0][0][0] = 0.0  # type: ignore[index]
    assert zone_to_geojson(poly)["coordinates"][0][0] == VALID_RING[0]


# ----------------------------------------------------------------------------------------------
# Containment
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def home_circle_index() -> BanIndex[tuple[int, int]]:
    """A 200 m circle round the victim's home in Utrecht, and a far-away school zone."""
    home = parse_zone(circle_geojson(*UTRECHT, 200), "zones.0")
    school = parse_zone(polygon_geojson(square(*rd_offset(5000), 100)), "zones.1")
    return BanIndex([((1, 0), home), ((1, 1), school)])


def test_fix_well_inside_is_a_certain_violation(home_circle_index):
    (j,) = judge_zone(UTRECHT_RD, 10, home_circle_index)
    assert (j.key, j.inside, j.uncertain, j.level) == ((1, 0), True, False, "violation")
    assert j.outside_by_m == pytest.approx(-200, abs=0.5)


def test_fix_inside_whose_accuracy_reaches_out_is_an_uncertain_violation(home_circle_index):
    (j,) = judge_zone(rd_offset(195), 10, home_circle_index)
    assert (j.inside, j.uncertain, j.level) == (True, True, "violation")
    assert j.border_distance_m == pytest.approx(5, abs=0.5)


def test_fix_outside_whose_accuracy_reaches_in_is_a_warning_not_a_violation(home_circle_index):
    (j,) = judge_zone(rd_offset(0, -205), 10, home_circle_index)
    assert (j.inside, j.uncertain, j.level) == (False, True, "warning")
    assert j.distance_m == pytest.approx(5, abs=0.5)
    assert j.outside_by_m == pytest.approx(5, abs=0.5)


def test_fix_outside_out_of_accuracy_reach_is_not_reported(home_circle_index):
    assert judge_zone(rd_offset(300), 10, home_circle_index) == []
    assert home_circle_index.containing(rd_offset(300)) == []
    assert home_circle_index.containing(rd_offset(300), buffer_m=150) == [(1, 0)]


def test_watched_zone_is_judged_even_when_far(home_circle_index):
    judgements = judge_zone(rd_offset(300), 10, home_circle_index, watch=[(1, 0), (9, 9)])
    assert [(j.key, j.level) for j in judgements] == [((1, 0), "clear")]
    assert judgements[0].outside_by_m == pytest.approx(100, abs=0.5)


def test_point_in_a_hole_is_outside_the_zone():
    zone = parse_zone(polygon_geojson(square(*UTRECHT_RD, 500), square(*UTRECHT_RD, 100)), "z")
    index = BanIndex([("ring", zone)])
    assert index.containing(UTRECHT_RD) == []
    (j,) = judge_zone(UTRECHT_RD, 120, index)
    assert (j.inside, j.uncertain) == (False, True)
    assert j.distance_m == pytest.approx(100, abs=0.01)
    assert index.containing(rd_offset(300)) == ["ring"]
    assert index.signed_distance("ring", rd_offset(300)) == pytest.approx(-200, abs=0.01)


def test_fix_on_the_border_counts_as_inside():
    zone = parse_zone(polygon_geojson(square(*UTRECHT_RD, 100)), "z")
    index = BanIndex([("z", zone)])
    # A corner of the projected polygon lies exactly on its border.
    on_border = zone.geometry_rd.exterior.coords[1]
    assert index.containing(on_border) == ["z"]
    (j,) = judge_zone(on_border, 0, index)
    assert (j.inside, j.uncertain, j.border_distance_m) == (True, False, 0)


def test_within_distance_sorts_by_distance():
    zones = [
        (k, parse_zone(polygon_geojson(square(*rd_offset(dx), 10)), "z"))
        for k, dx in [("far", 500), ("near", 100), ("mid", 300)]
    ]
    index = BanIndex(zones)
    hits = index.within_distance(UTRECHT_RD, 400)
    assert [k for k, _ in hits] == ["near", "mid"]
    assert [d for _, d in hits] == pytest.approx([90, 290], abs=0.01)


def test_duplicate_keys_are_refused():
    zone = parse_zone(circle_geojson(*UTRECHT, 50), "z")
    with pytest.raises(ValueError):
        BanIndex([("a", zone), ("a", zone)])


def test_negative_accuracy_is_refused(home_circle_index):
    with pytest.raises(ValueError):
        judge_zone(UTRECHT_RD, -1, home_circle_index)


def test_a_2000_vertex_polygon_answers_like_the_plain_geometry():
    steps = [1.0] * 2000
    radii = [800 + 300 * math.sin(i * 37 * 2 * math.pi / 2000) for i in range(2000)]
    zone = parse_zone(polygon_geojson(star_rd(*UTRECHT_RD, radii, steps)), "z")
    assert len(zone.geometry_rd.exterior.coords) == 2001
    circles = [
        (i, parse_zone(circle_geojson(*destination(*UTRECHT, i * 7.0, 3000), 50), "c"))
        for i in range(50)
    ]
    index = BanIndex([("big", zone), *circles])
    for dx in range(-1200, 1201, 97):
        for dy in range(-1200, 1201, 131):
            pt = rd_offset(dx, dy)
            expected = ["big"] if zone.geometry_rd.intersects(Point(pt)) else []
            assert index.containing(pt) == expected


# ----------------------------------------------------------------------------------------------
# Proximity (contact ban 500 m, warning up to 1 km)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dx", "level"),
    [
        (0, "violation"),
        (400, "violation"),
        (500, "violation"),
        (500.5, "warning"),
        (1000, "warning"),
        (1000.5, "clear"),
        (20_000, "clear"),
    ],
)
def test_proximity_levels(dx, level):
    j = judge_proximity(rd_offset(dx), 0, UTRECHT_RD, 0, 500, 500)
    assert j.distance_m == pytest.approx(dx)
    assert j.level == level
    assert not j.uncertain


def test_proximity_is_uncertain_when_combined_accuracy_straddles_a_threshold():
    j = judge_proximity(rd_offset(480), 15, UTRECHT_RD, 10, 500, 500)
    assert (j.level, j.uncertain) == ("violation", True)
    assert (j.min_distance_m, j.max_distance_m) == pytest.approx((455, 505))
    j = judge_proximity(rd_offset(0, 1010), 8, UTRECHT_RD, 8, 500, 500)
    assert (j.level, j.uncertain) == ("clear", True)


def test_proximity_is_certain_when_accuracy_keeps_one_level():
    j = judge_proximity(rd_offset(300), 50, UTRECHT_RD, 50, 500, 500)
    assert (j.level, j.uncertain) == ("violation", False)
    j = judge_proximity(rd_offset(5000), 100, UTRECHT_RD, 200, 500, 500)
    assert (j.level, j.uncertain) == ("clear", False)


def test_proximity_outside_by_is_measured_from_the_warning_border():
    j = judge_proximity(rd_offset(1200), 0, UTRECHT_RD, 0, 500, 500)
    assert j.outside_by_m == pytest.approx(200)
    j = judge_proximity(rd_offset(1200), 0, UTRECHT_RD, 0, 500, 0)
    assert j.outside_by_m == pytest.approx(700)


def test_proximity_refuses_negative_inputs():
    with pytest.raises(ValueError):
        judge_proximity(UTRECHT_RD, -1, UTRECHT_RD, 0, 500, 500)
    with pytest.raises(ValueError):
        judge_proximity(UTRECHT_RD, 0, UTRECHT_RD, 0, 500, math.nan)


# ----------------------------------------------------------------------------------------------
# Debounce with hysteresis
# ----------------------------------------------------------------------------------------------


def run(
    outside_by: list[float], state: ArmState = ARMED, **kw: float
) -> tuple[ArmState, list[str]]:
    """Feed signed distances (zone rule: <= 0 is a violation); give each raise an alarm id."""
    actions = []
    for n, d in enumerate(outside_by):
        level = "violation" if d <= 0 else "clear"
        state, action = next_armed_state(state, level, d, **kw)
        if action in (Action.RAISE, Action.RAISE_WARNING):
            state = state.with_alarm(100 + n)
        actions.append(str(action))
    return state, actions


def test_jitter_across_a_zone_border_raises_exactly_one_alarm():
    state, actions = run([30, 4, -3, 2, -1, 4, -2, 3, 1, -4, 5, 2])
    assert actions.count("raise") == 1
    assert actions[:2] == ["none", "none"]
    assert actions[2] == "raise"
    assert set(actions[3:]) == {"append"}
    assert state == ArmState(ArmStatus.FIRED, 102)


def test_leaving_by_more_than_the_hysteresis_then_returning_appends_while_the_alarm_is_open():
    # Issue 11: one open alarm per ban. Leaving and coming back is a re-entry on that alarm.
    state, actions = run([-5, 10, 26, 40, -2, 3])
    assert actions == ["raise", "append", "append", "append", "append", "append"]
    assert state == ArmState(ArmStatus.FIRED, 100)
    # The step back inside after being away is a re-entry; jitter at the border is not.
    previous = ArmState(ArmStatus.FIRED, 100)
    away, _ = next_armed_state(previous, "clear", 40)
    assert away == ArmState(ArmStatus.FIRED, 100, away=True) and not is_reentry(previous, away)
    back, action = next_armed_state(away, "violation", -2)
    assert action == Action.APPEND and is_reentry(away, back) and not back.away
    near, _ = next_armed_state(previous, "clear", 10)
    assert near == previous and not is_reentry(previous, near)
    # Resolved, the next breach raises again.
    _, action = next_armed_state(rearm_on_resolve(away, 100), "violation", -2)
    assert action == Action.RAISE


def test_alternating_in_and_out_a_thousand_times_raises_once_and_counts_reentries():
    state, actions = run([-30.0, 30.0] * 500)
    assert actions.count("raise") == 1 and actions.count("append") == 999
    reentries, state = 0, ArmState(ArmStatus.FIRED, 1)
    for d in [30.0, -30.0] * 10:
        new, _ = next_armed_state(state, "violation" if d <= 0 else "clear", d)
        reentries += is_reentry(state, new)
        state = new
    assert reentries == 10


def test_leaving_by_less_than_the_hysteresis_then_returning_raises_once():
    _, actions = run([-5, 24, 20, -2])
    assert actions == ["raise", "append", "append", "append"]


def test_custom_hysteresis_and_accuracy_decide_what_counts_as_having_left():
    fired = ArmState(ArmStatus.FIRED, 7)
    assert not next_armed_state(fired, "clear", 30, hysteresis_m=50)[0].away
    assert next_armed_state(fired, "clear", 51, hysteresis_m=50)[0].away
    # 40 m out with a 20 m accurate fix may still be 20 m out: not far enough to have left.
    assert not next_armed_state(fired, "clear", 40, accuracy_m=20)[0].away
    assert next_armed_state(fired, "clear", 46, accuracy_m=20)[0].away
    # Never a second alarm while the first is open.
    _, actions = run([-5, 46, -1], accuracy_m=20)
    assert actions.count("raise") == 1


def test_resolving_the_open_alarm_rearms():
    state, _ = run([-5])
    assert state == ArmState(ArmStatus.FIRED, 100)
    assert rearm_on_resolve(state, 99) == state  # an older alarm: nothing changes
    state = rearm_on_resolve(state, 100)
    assert state == ARMED
    # Still inside after the dispatcher closed the alarm: a new alarm, not silence.
    _, action = next_armed_state(state, "violation", -5)
    assert action == "raise"


def test_warning_then_violation_raises_both_then_appends():
    state, a1 = next_armed_state(ARMED, "warning", -100)
    assert (state.status, a1) == (ArmStatus.WARNED, Action.RAISE_WARNING)
    state = state.with_alarm(1)
    state, a2 = next_armed_state(state, "warning", -50)
    assert (state, a2) == (ArmState(ArmStatus.WARNED, 1), Action.APPEND)
    state, a3 = next_armed_state(state, "violation", -600)
    assert (state.status, a3) == (ArmStatus.FIRED, Action.RAISE)
    state = state.with_alarm(2)
    # Back in the warning band: still the same violation episode.
    state, a4 = next_armed_state(state, "warning", -300)
    assert (state, a4) == (ArmState(ArmStatus.FIRED, 2), Action.APPEND)
    # Resolving the superseded warning alarm does not re-arm the violation watch.
    assert rearm_on_resolve(state, 1) == state
    # Far away: still the violation's episode (away), appended until it is resolved.
    state, a5 = next_armed_state(state, "clear", 30)
    assert (state, a5) == (ArmState(ArmStatus.FIRED, 2, away=True), Action.APPEND)
    assert rearm_on_resolve(state, 2) == ARMED


def test_proximity_jitter_at_the_ban_distance_raises_one_alarm():
    state, raises = ARMED, 0
    for n, dx in enumerate([1100, 990, 503, 498, 502, 497, 501, 700, 499]):
        j = judge_proximity(rd_offset(dx), 5, UTRECHT_RD, 5, 500, 500)
        state, action = next_armed_state(state, j.level, j.outside_by_m)
        if action == Action.RAISE:
            raises += 1
            state = state.with_alarm(n)
    assert raises == 1


def test_gps_jitter_at_a_real_circle_border_raises_one_alarm():
    index = BanIndex([("home", parse_zone(circle_geojson(*UTRECHT, 200), "z"))])
    # The perpetrator walks along the border; the fix jitters a few metres either side.
    jitter = [3, -2, 4, -4, 1, -1, 2, -3, 5, -5] * 3
    state, actions = ARMED, []
    for n, j in enumerate(jitter):
        angle = n * 0.02
        pt = (
            UTRECHT_RD[0] + (200 + j) * math.cos(angle),
            UTRECHT_RD[1] + (200 + j) * math.sin(angle),
        )
        judged = judge_zone(pt, 3, index, watch=["home"] if state != ARMED else [])
        level, outside = (judged[0].level, judged[0].outside_by_m) if judged else ("clear", 99.0)
        state, action = next_armed_state(state, level, outside)
        if action == Action.RAISE:
            state = state.with_alarm(n)
        actions.append(action)
    # The first fix is 3 m out with a 3 m accuracy: a warning; then one violation alarm.
    assert actions[:2] == [Action.RAISE_WARNING, Action.RAISE]
    assert set(actions[2:]) == {Action.APPEND}


def test_arm_state_round_trips_through_storage_columns():
    fired = ArmState(ArmStatus.FIRED, 42)
    assert ArmState.load(str(fired.status), fired.alarm_id) == fired
    assert ArmState.load(fired.stored, fired.alarm_id) == fired
    away = ArmState(ArmStatus.WARNED, 43, away=True)
    assert away.stored == "warned:away" and ArmState.load(away.stored, 43) == away
    assert ArmState.load("armed", 42) == ARMED
    assert ArmState.load("garbage", 42) == ARMED
    assert ArmState.load("fired:garbage", 42) == ARMED
    assert len(max((f"{s.value}:away" for s in ArmStatus), key=len)) <= 16


def test_unknown_level_is_refused():
    with pytest.raises(ValueError):
        next_armed_state(ARMED, "inside", -1)


# ----------------------------------------------------------------------------------------------
# The victim's reference point
# ----------------------------------------------------------------------------------------------

HOME_RD = rd_offset(1500, 200)


def fix_aged(seconds: float) -> VictimFix:
    return VictimFix(rd_offset(10), 8.0, NOW - dt.timedelta(seconds=seconds))


def test_current_device_fix_is_used():
    ref = victim_reference(fix_aged(60), HOME_RD, NOW)
    assert ref is not None
    assert (ref.source, ref.age_s, ref.point_rd, ref.accuracy_m) == ("device", 60, rd_offset(10), 8)


def test_stale_device_fix_falls_back_to_home_with_its_age_reported():
    ref = victim_reference(fix_aged(400), HOME_RD, NOW)
    assert ref is not None
    assert (ref.source, ref.point_rd, ref.age_s, ref.device_fix_age_s) == (
        "home",
        HOME_RD,
        None,
        400,
    )


def test_no_current_fix_and_no_home_gives_no_reference():
    assert victim_reference(fix_aged(400), None, NOW) is None
    assert victim_reference(None, None, NOW) is None
    ref = victim_reference(None, HOME_RD, NOW)
    assert ref is not None
    assert (ref.source, ref.device_fix_age_s) == ("home", None)


def test_freshness_boundaries():
    assert victim_position_is_current(NOW - dt.timedelta(seconds=300), NOW)
    assert not victim_position_is_current(NOW - dt.timedelta(seconds=301), NOW)
    assert victim_position_is_current(NOW - dt.timedelta(seconds=30), NOW, max_age_s=30)
    assert not victim_position_is_current(None, NOW)
    # A little clock skew is tolerated; a fix from far in the future is not trusted.
    assert victim_position_is_current(NOW + dt.timedelta(seconds=30), NOW)
    assert not victim_position_is_current(NOW + dt.timedelta(seconds=120), NOW)


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError):
        victim_position_is_current(dt.datetime(2026, 11, 28, 10, 0), NOW)


# ----------------------------------------------------------------------------------------------
# Properties against independent computations
# ----------------------------------------------------------------------------------------------

nl_lon = st.floats(3.4, 7.2)
nl_lat = st.floats(50.8, 53.5)
bearing = st.floats(0, 360)


@settings(max_examples=200, deadline=None)
@given(nl_lon, nl_lat, bearing, st.floats(1, 50_000))
def test_rd_distance_agrees_with_great_circle_distance(lon, lat, brg, dist):
    lon2, lat2 = destination(lon, lat, brg, dist)
    reference = haversine_m(lon, lat, lon2, lat2)
    measured = distance_m(to_rd(lon, lat), to_rd(lon2, lat2))
    assert measured == pytest.approx(reference, rel=0.005, abs=0.01)


@settings(max_examples=200, deadline=None)
@given(nl_lon, nl_lat, st.floats(10, 5000), bearing, st.floats(0, 2))
def test_circle_contains_a_point_iff_its_great_circle_distance_is_below_the_radius(
    lon, lat, radius, brg, fraction
):
    zone = parse_zone(circle_geojson(lon, lat, radius), "z")
    index = BanIndex([("c", zone)])
    plon, plat = destination(lon, lat, brg, fraction * radius)
    h = haversine_m(lon, lat, plon, plat)
    assume(abs(h - radius) > 0.005 * radius + 0.5)  # either answer is right in the band
    point = to_rd(plon, plat)
    expected = h < radius
    assert (index.containing(point) == ["c"]) is expected
    judged = judge_zone(point, 0, index)
    assert [j.inside for j in judged] == ([True] if expected else [])


offset = st.floats(-2000, 2000)
circle_spec = st.tuples(st.just("circle"), offset, offset, st.floats(20, 800))
star_spec = st.integers(3, 12).flatmap(
    lambda n: st.tuples(
        st.just("star"),
        offset,
        offset,
        st.lists(st.floats(20, 800), min_size=n, max_size=n),
        st.lists(st.floats(0.6, 1.0), min_size=n, max_size=n),  # every gap < 180 deg
    )
)


def build_zone(spec: tuple) -> Zone:
    if spec[0] == "circle":
        _, dx, dy, r = spec
        return parse_zone(circle_geojson(*to_wgs84(*rd_offset(dx, dy)), r), "z")
    _, dx, dy, radii, steps = spec
    return parse_zone(polygon_geojson(star_rd(*rd_offset(dx, dy), radii, steps)), "z")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(circle_spec, star_spec), min_size=1, max_size=25),
    st.lists(st.tuples(offset, offset), min_size=1, max_size=10),
    st.floats(0, 300),
)
def test_index_agrees_with_a_brute_force_loop(specs, points, reach):
    zones = [((7, i), build_zone(spec)) for i, spec in enumerate(specs)]
    index = BanIndex(zones)
    for dx, dy in points:
        pt = rd_offset(dx, dy)
        p = Point(pt)
        assert index.containing(pt) == [k for k, z in zones if z.geometry_rd.covers(p)]
        near = index.within_distance(pt, reach)
        brute = {
            k: z.geometry_rd.distance(p) for k, z in zones if z.geometry_rd.distance(p) <= reach
        }
        assert dict(near) == pytest.approx(brute)
        judged = {j.key: j for j in judge_zone(pt, reach, index)}
        assert set(judged) == set(brute)
        for k, j in judged.items():
            assert j.inside is (brute[k] == 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-50, 24.9), min_size=1, max_size=60))
def test_any_wandering_within_the_hysteresis_band_is_one_alarm(outside_by):
    _, actions = run([-1.0, *outside_by])
    assert actions.count("raise") == 1
    assert actions[1:] == ["append"] * len(outside_by)


def test_batch_judgement_equals_one_call_per_fix():
    import random

    rng = random.Random(7)
    zones = []
    for i in range(60):
        lon, lat = 5.08 + rng.random() * 0.1, 52.06 + rng.random() * 0.06
        zones.append(
            (
                (i // 3, i % 3),
                geometry.parse_zone(
                    {"type": "Point", "coordinates": [lon, lat], "radius_m": rng.uniform(20, 400)},
                    f"zones.{i}",
                ),
            )
        )
    index = geometry.BanIndex(zones)
    lons = [5.07 + rng.random() * 0.12 for _ in range(300)]
    lats = [52.05 + rng.random() * 0.08 for _ in range(300)]
    points = geometry.to_rd_many(lons, lats)
    assert points[0] == pytest.approx(geometry.to_rd(lons[0], lats[0]))
    accuracies = [rng.choice([0.0, 5.0, 30.0]) for _ in points]
    batch = geometry.judge_zones_batch(points, accuracies, index)
    assert sum(len(b) for b in batch) > 20  # the sample does hit zones
    for point, accuracy, got in zip(points, accuracies, batch, strict=True):
        one = geometry.judge_zone(point, accuracy, index)
        by_key = sorted(one, key=lambda j: j.key)
        got = sorted(got, key=lambda j: j.key)
        assert [(j.key, j.inside, j.uncertain) for j in got] == [
            (j.key, j.inside, j.uncertain) for j in by_key
        ]
        assert [j.distance_m for j in got] == pytest.approx([j.distance_m for j in by_key])
