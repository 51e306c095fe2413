"""Municipality review: is AWARE reaching every high-risk victim? Aggregates only.

`allocation_report` computes the figures for a set of municipalities and a period of local
(Europe/Amsterdam) dates, inclusive, in a fixed handful of SQL aggregate queries
(`aware.reports.queries`). `view_report` is the use case behind the API: the figures with small
counts suppressed (`aware.reports.privacy`) and an audit entry, committed once.

Definitions (the period runs from 00:00 Amsterdam time on `from` to 24:00 on `to`; "the end of
the period" is that instant, or now if it is still to come):
- cases: the cases whose municipality is one of those asked for.
- victims.high_concern: cases whose current concern level is high and that were active (not
  ended) at some point in the period: created before its end, and not ended or last changed
  (ended) after its start.
- victims.with_active_device: of those, cases with an allocation whose device was connected
  before the end of the period and that had not ended before its start.
- victims.waiting: of those, cases on the waiting list at the end of the period (a waiting-list
  decision then, and no granted or refused decision after it by then).
- victims.refused: of those, cases with a refused decision in the period; refused_by_reason
  counts those decisions by their reason text when the very same text was used at least 5
  times (a standard phrase); rarer free texts may describe a person and are counted as
  "(other reason; free text not shown)".
- victims.never_applied: of those, cases without any application made before the end.
- lead_times_days: applications made in the period (all concern levels); days from applied_at
  to decided_at (the latest decision) and to connected_at; n, median and p90 (linear
  interpolation between ranks).
- devices: the stock as it is now (not per period): devices owned by the municipalities
  (devices.municipality_code), by effective status (`aware.devices.stock`: defective or lost as
  recorded, otherwise in_use while a case holds an active link, else in_stock).
- allocations: started = device connected in the period; ended = ended in the period (by its
  reason from the fixed list); handed_over = handover to the wijkteam completed in the period.
- alarms_by_month: alarms received in the period on the cases (alarms.case_id), per calendar
  month in Europe/Amsterdam, type and outcome (null while not resolved).
- acceptance: as the console's shift figures (BS 8484: 80 % within 10 s, 98.5 % within 40 s),
  over the period's alarms; test and device_offline are left out; an alarm still open beyond a
  limit counts as late, one still open within it is not counted yet.
- applications_by_referrer: applications made in the period, by referring organisation
  (organisation names are not personal data).
- bans: bans in force at some point in the period, by kind; violations = zone_violation and
  proximity_violation alarms received in the period.
- comparison: one row per municipality asked for, with its public name.

Privacy: never a name, address, phone number or case reference; counts of 1-4 become "<5".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from aware.alarms.figures import TARGETS
from aware.audit import services as audit
from aware.auth.models import User
from aware.devices import stock
from aware.reports import privacy, queries

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MAX_PERIOD_DAYS = 3 * 366
PURPOSE = "municipality review"
ACTION = "report.view"
OBJECT = "allocation_report"


class ReportRefused(Exception):
    """A request the report cannot answer (HTTP status and the field at fault)."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def local_midnight(day: dt.date) -> dt.datetime:
    """00:00 Europe/Amsterdam of `day`, as UTC."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM).astimezone(dt.UTC)


def month_starts(start: dt.date, end: dt.date) -> list[tuple[str, dt.datetime]]:
    """("YYYY-MM", first instant in UTC) of every local calendar month the period touches; the
    first one starts at the period's start."""
    out: list[tuple[str, dt.datetime]] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        first = dt.date(year, month, 1)
        out.append((f"{year:04d}-{month:02d}", local_midnight(max(first, start))))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def iso(at: dt.datetime) -> str:
    """RFC 3339 UTC with Z."""
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_period(start: dt.date, end: dt.date) -> None:
    """422 for a period backwards or longer than three years."""
    if start > end:
        raise ReportRefused(422, "from must be on or before to", "from")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ReportRefused(422, "the period may be at most three years", "to")


def allocation_report(
    session: Session, municipalities: list[str], start: dt.date, end: dt.date, now: dt.datetime
) -> dict[str, Any]:
    """The figures (unsuppressed) for the municipalities and the local dates start..end."""
    check_period(start, end)
    codes = tuple(dict.fromkeys(municipalities))
    end_at = local_midnight(end + dt.timedelta(days=1))
    w = queries.Window(codes, local_midnight(start), end_at, min(end_at, now), now)
    dialect = session.get_bind().dialect.name

    per_mun = queries.victims_by_municipality(session, w)
    victim_keys = ("high_concern", "with_active_device", "waiting", "refused", "never_applied")
    victims: dict[str, Any] = {k: sum(v[k] for v in per_mun.values()) for k in victim_keys}
    victims["refused_by_reason"] = queries.refused_by_reason(session, w)
    victims = {k: victims[k] for k in (*victim_keys[:4], "refused_by_reason", "never_applied")}

    alarm_rows = queries.alarms_by_month(session, w, month_starts(start, end))
    by_month: dict[tuple[str, str, str | None], int] = {}
    alarms_per_mun: dict[str, int] = {}
    violations = 0
    for mun, month, type_, outcome, n in alarm_rows:  # grouped rows, not alarms
        by_month[(month, type_, outcome)] = by_month.get((month, type_, outcome), 0) + n
        alarms_per_mun[mun] = alarms_per_mun.get(mun, 0) + n
        if type_ in queries.VIOLATIONS:
            violations += n

    referrers = queries.applications_by_referrer(session, w)
    by_org: dict[tuple[str, str], int] = {}
    applications_per_mun: dict[str, int] = {}
    for mun, org_type, org_name, n in referrers:
        by_org[(org_type, org_name)] = by_org.get((org_type, org_name), 0) + n
        applications_per_mun[mun] = applications_per_mun.get(mun, 0) + n

    acc = queries.acceptance(session, w, dialect)
    names = queries.municipality_names(session, list(codes))
    bans = queries.bans(session, w)
    bans["violations"] = violations
    empty = dict.fromkeys(victim_keys, 0)

    return {
        "municipalities": list(codes),
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "generated_at": iso(now),
        "as_of": iso(w.as_of),
        "suppressed_below": privacy.SUPPRESSED_BELOW,
        "victims": victims,
        "lead_times_days": queries.lead_times(session, w, dialect),
        "devices": stock.stock_counts(session, codes),
        "allocations": queries.allocations(session, w),
        "alarms_by_month": [
            {"month": m, "type": t, "outcome": o, "count": n}
            for (m, t, o), n in sorted(by_month.items(), key=lambda kv: _month_key(kv[0]))
        ],
        "acceptance": {
            "counted": acc["counted_10s"],
            "counted_40s": acc["counted_40s"],
            "within_10s": acc["within_10s"],
            "within_40s": acc["within_40s"],
            "share_10s": _share(acc["within_10s"], acc["counted_10s"]),
            "share_40s": _share(acc["within_40s"], acc["counted_40s"]),
            "target_10s": TARGETS[10.0],
            "target_40s": TARGETS[40.0],
        },
        "applications_by_referrer": [
            {"organisation_type": t, "organisation": name, "count": n}
            for (t, name), n in sorted(by_org.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "bans": bans,
        "comparison": [
            {
                "municipality": code,
                "name": names.get(code, code),
                "high_concern": per_mun.get(code, empty)["high_concern"],
                "with_active_device": per_mun.get(code, empty)["with_active_device"],
                "waiting": per_mun.get(code, empty)["waiting"],
                "applications": applications_per_mun.get(code, 0),
                "alarms": alarms_per_mun.get(code, 0),
            }
            for code in codes
        ],
    }


def _month_key(key: tuple[str, str, str | None]) -> tuple[str, str, str]:
    return key[0], key[1], key[2] or ""


def _share(within: int, counted: int) -> float | None:
    return round(within / counted, 4) if counted else None


def view_report(
    session: Session,
    user: User,
    municipalities: list[str],
    start: dt.date,
    end: dt.date,
    now: dt.datetime,
    *,
    fmt: str = "json",
    region: str | None = None,
) -> dict[str, Any]:
    """The use case behind the API: suppressed figures plus an audit entry, one commit."""
    report: dict[str, Any] = privacy.suppress(
        allocation_report(session, municipalities, start, end, now)
    )
    detail: dict[str, Any] = {
        "municipalities": report["municipalities"],
        "period": report["period"],
        "format": fmt,
    }
    if region is not None:
        detail["region"] = region
    audit.record(session, user, ACTION, OBJECT, None, PURPOSE, detail, at=now)
    session.commit()
    return report


def to_csv(report: dict[str, Any]) -> str:
    """The report as CSV: one section per table, each headed by a `# name` line and a header
    row, sections separated by an empty line. Cells that a spreadsheet would run as a formula
    are quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def section(name: str, header: list[str], rows: list[list[Any]]) -> None:
        writer.writerow([f"# {name}"])
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
        writer.writerow([])

    section(
        "report",
        ["municipalities", "from", "to", "generated_at", "suppressed_below"],
        [
            [
                " ".join(report["municipalities"]),
                report["period"]["from"],
                report["period"]["to"],
                report["generated_at"],
                report["suppressed_below"],
            ]
        ],
    )
    victims = report["victims"]
    section(
        "victims",
        ["figure", "count"],
        [[k, v] for k, v in victims.items() if k != "refused_by_reason"],
    )
    section(
        "refused_by_reason",
        ["reason", "count"],
        list(map(list, victims["refused_by_reason"].items())),
    )
    section(
        "lead_times_days",
        ["measure", "n", "median", "p90"],
        [[k, v["n"], v["median"], v["p90"]] for k, v in report["lead_times_days"].items()],
    )
    section("devices", ["status", "count"], list(map(list, report["devices"].items())))
    allocations = report["allocations"]
    section(
        "allocations",
        ["figure", "count"],
        [[k, v] for k, v in allocations.items() if k != "ended_by_reason"],
    )
    section(
        "ended_by_reason",
        ["reason", "count"],
        list(map(list, allocations["ended_by_reason"].items())),
    )
    section(
        "alarms_by_month",
        ["month", "type", "outcome", "count"],
        [
            [r["month"], r["type"], r["outcome"] or "", r["count"]]
            for r in report["alarms_by_month"]
        ],
    )
    section("acceptance", ["figure", "value"], list(map(list, report["acceptance"].items())))
    section(
        "applications_by_referrer",
        ["organisation_type", "organisation", "count"],
        [
            [r["organisation_type"], r["organisation"], r["count"]]
            for r in report["applications_by_referrer"]
        ],
    )
    section("bans", ["figure", "count"], list(map(list, report["bans"].items())))
    cols = [
        "municipality",
        "name",
        "high_concern",
        "with_active_device",
        "waiting",
        "applications",
        "alarms",
    ]
    section("comparison", cols, [[r[c] for c in cols] for r in report["comparison"]])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
