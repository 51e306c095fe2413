"""Reference data use cases: the CBS municipality list, regions, partner organisations.

The file parsers are pure (no session): migration 0005 uses them to load the shipped list into
a fresh database, and `aware municipalities load FILE` uses them for CBS's next list.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aware.coordination.reference_models import (
    ORGANISATION_TYPES,
    ContactPerson,
    Municipality,
    Organisation,
)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MUNICIPALITIES_FILE = DATA_DIR / "municipalities.csv"
CENTRUMGEMEENTEN_FILE = DATA_DIR / "centrumgemeenten.csv"

# CBS "Gemeenten alfabetisch": Gemeentecode;GemeentecodeGM;Gemeentenaam;Provinciecode;
# ProvinciecodePV;Provincienaam. Only code, name and province are needed; the GM code, when
# present, must agree with the plain code.
REQUIRED_COLUMNS = ("gemeentecode", "gemeentenaam", "provincienaam")
_DIGITS = re.compile(r"^\d{1,4}$")
_CODE = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class MunicipalityRow:
    """One municipality as a CBS list names it."""

    code: str
    name: str
    province: str


class ReferenceFileError(ValueError):
    """A reference file that cannot be used; `line` is 1-based (the header is line 1)."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class ReferenceError(Exception):
    """A reference use case refused; `field` names the input, `status` the HTTP answer."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _decode(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # CBS's older downloads and Excel exports on Windows are cp1252.
        return raw.decode("cp1252")


def _rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ReferenceFileError(1, "the file is empty; expected a header line")
    header = lines[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def parse_municipalities(raw: bytes | str) -> list[MunicipalityRow]:
    """Parse a CBS "Gemeenten alfabetisch" CSV (`;` or `,`); raises ReferenceFileError."""
    rows = _rows(_decode(raw))
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ReferenceFileError(
            1,
            "missing column(s) " + ", ".join(missing) + "; expected CBS's layout "
            "Gemeentecode;GemeentecodeGM;Gemeentenaam;Provinciecode;ProvinciecodePV;"
            "Provincienaam",
        )
    idx = {name: header.index(name) for name in header}
    gm = idx.get("gemeentecodegm")
    result: list[MunicipalityRow] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # trailing blank lines
        if len(row) < len(header):
            raise ReferenceFileError(
                number, f"{len(row)} fields, expected {len(header)} as in the header"
            )
        raw_code = row[idx["gemeentecode"]].strip()
        if not _DIGITS.match(raw_code):
            raise ReferenceFileError(number, f"Gemeentecode {raw_code!r} is not a CBS code")
        code = raw_code.zfill(4)  # a spreadsheet may have dropped the leading zeros
        if gm is not None and row[gm].strip() and row[gm].strip().upper() != f"GM{code}":
            raise ReferenceFileError(
                number, f"GemeentecodeGM {row[gm].strip()!r} does not match Gemeentecode {code}"
            )
        name = row[idx["gemeentenaam"]].strip()
        province = row[idx["provincienaam"]].strip()
        if not name or len(name) > 100:
            raise ReferenceFileError(number, "Gemeentenaam is empty or longer than 100")
        if not province or len(province) > 50:
            raise ReferenceFileError(number, "Provincienaam is empty or longer than 50")
        if code in seen:
            raise ReferenceFileError(number, f"code {code} also on line {seen[code]}")
        seen[code] = number
        result.append(MunicipalityRow(code, name, province))
    if not result:
        raise ReferenceFileError(2, "the file lists no municipalities")
    return result


def parse_centrumgemeenten(raw: bytes | str, known: set[str]) -> dict[str, str]:
    """Parse the shipped region file (code,centrumgemeente_code,...): {code: centrumgemeente}."""
    rows = _rows(_decode(raw))
    header = [h.strip().lower() for h in rows[0]]
    if header[:2] != ["code", "centrumgemeente_code"]:
        raise ReferenceFileError(1, "expected the columns code,centrumgemeente_code")
    regions: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        code, centre = (row[0].strip(), row[1].strip()) if len(row) >= 2 else ("", "")
        for value in (code, centre):
            if value not in known:
                raise ReferenceFileError(number, f"{value!r} is not a known municipality code")
        regions[code] = centre
    for code, centre in regions.items():
        if regions.get(centre) != centre:
            raise ReferenceFileError(1, f"{code}'s centrumgemeente {centre} is not its own centre")
    return regions


def shipped_municipalities() -> list[MunicipalityRow]:
    """The CBS list shipped with the service (aware/data/municipalities.csv)."""
    return parse_municipalities(MUNICIPALITIES_FILE.read_bytes())


def shipped_regions() -> dict[str, str]:
    """The centrumgemeenten shipped with the service that could be verified (see the file)."""
    known = {row.code for row in shipped_municipalities()}
    return parse_centrumgemeenten(CENTRUMGEMEENTEN_FILE.read_bytes(), known)


# --- municipalities -----------------------------------------------------------------------


@dataclass
class SyncReport:
    """What loading a CBS list changed (or would change)."""

    added: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.added or self.renamed or self.moved or self.reactivated or self.deactivated
        )

    def lines(self) -> list[str]:
        """Human-readable lines for the command line."""
        out = [f"added {x}" for x in self.added]
        out += [f"renamed {x}" for x in self.renamed]
        out += [f"province {x}" for x in self.moved]
        out += [f"active again {x}" for x in self.reactivated]
        out += [
            f"inactive {x} (no longer listed; kept for the cases that refer to it)"
            for x in self.deactivated
        ]
        out.append(
            f"{len(self.added)} added, {len(self.renamed)} renamed, {len(self.moved)} moved, "
            f"{len(self.reactivated)} reactivated, {len(self.deactivated)} deactivated, "
            f"{self.unchanged} unchanged"
        )
        return out


def sync_municipalities(
    session: Session, rows: list[MunicipalityRow], *, dry_run: bool = False
) -> SyncReport:
    """Upsert names and provinces; municipalities no longer listed become inactive (never
    deleted: cases refer to them). One transaction: committed whole, or (dry run) rolled back."""
    report = SyncReport()
    existing = {m.code: m for m in session.scalars(select(Municipality))}
    listed = {row.code for row in rows}
    try:
        for row in rows:
            current = existing.get(row.code)
            if current is None:
                session.add(Municipality(code=row.code, name=row.name, province=row.province))
                report.added.append(f"{row.code} {row.name} ({row.province})")
                continue
            touched = False
            if current.name != row.name:
                report.renamed.append(f"{row.code} {current.name} -> {row.name}")
                current.name = row.name
                touched = True
            if current.province != row.province:
                report.moved.append(f"{row.code} {row.name}: {current.province} -> {row.province}")
                current.province = row.province
                touched = True
            if not current.active:
                report.reactivated.append(f"{row.code} {row.name}")
                current.active = True
                touched = True
            if not touched:
                report.unchanged += 1
        for code, muni in sorted(existing.items()):
            if code not in listed and muni.active:
                muni.active = False
                report.deactivated.append(f"{code} {muni.name}")
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return report


def get_municipality(session: Session, code: str) -> Municipality:
    """The municipality with this CBS code; 404 otherwise."""
    muni = session.get(Municipality, code) if _CODE.match(code) else None
    if muni is None:
        raise ReferenceError(404, f"no municipality with CBS code {code!r}")
    return muni


def municipality_problem(session: Session, code: str) -> str | None:
    """Why `code` cannot be used for new work (unknown or inactive), or None when it can."""
    muni = session.get(Municipality, code) if _CODE.match(code) else None
    if muni is None:
        return f"unknown CBS municipality code {code!r}"
    if not muni.active:
        return f"municipality {code} ({muni.name}) no longer exists (inactive since a merger)"
    return None


def municipality_exists(session: Session, code: str) -> bool:
    """Whether the code is a known municipality, current or former (for filters)."""
    return bool(_CODE.match(code)) and session.get(Municipality, code) is not None


def list_municipalities(
    session: Session, region: str | None = None, active: bool | None = None
) -> list[Municipality]:
    """Municipalities by name; `region` = a centrumgemeente's code gives its region."""
    query = select(Municipality)
    if region is not None:
        centre = session.get(Municipality, region) if _CODE.match(region) else None
        if centre is None:
            raise ReferenceError(422, f"unknown CBS municipality code {region!r}", "region")
        if centre.centrumgemeente_code != centre.code:
            raise ReferenceError(
                422, f"{region} ({centre.name}) is not a known centrumgemeente", "region"
            )
        query = query.where(Municipality.centrumgemeente_code == region)
    if active is not None:
        query = query.where(Municipality.active == active)
    # Sorted here, not by the database's collation (SQLite and PostgreSQL differ): like CBS's
    # alphabetical list, 's-Gravenhage under G and case not counted.
    return sorted(session.scalars(query), key=lambda m: (name_key(m.name), m.code))


def name_key(name: str) -> str:
    """Sort key of a Dutch place name: a leading 's- or 't is not counted."""
    folded = name.casefold()
    for prefix in ("'s-", "'s ", "'t-", "'t "):
        if folded.startswith(prefix):
            return folded[len(prefix) :]
    return folded


# --- organisations and contact persons ------------------------------------------------------


def create_organisation(
    session: Session, name: str, type_: str, municipality: str | None, now: dt.datetime
) -> Organisation:
    """Register a partner organisation (409 when the same name and type exist there)."""
    if type_ not in ORGANISATION_TYPES:
        raise ReferenceError(422, f"one of {', '.join(ORGANISATION_TYPES)}", "type")
    if municipality is not None:
        problem = municipality_problem(session, municipality)
        if problem:
            raise ReferenceError(422, problem, "municipality")
    clash = session.scalars(
        select(Organisation).where(
            Organisation.name == name,
            Organisation.type == type_,
            Organisation.municipality_code.is_(None)
            if municipality is None
            else Organisation.municipality_code == municipality,
        )
    ).first()
    if clash is not None:
        raise ReferenceError(
            409, f"organisation {clash.id} already has this name and type here", "name"
        )
    org = Organisation(name=name, type=type_, municipality_code=municipality, created_at=now)
    session.add(org)
    session.commit()
    return org


def get_organisation(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise ReferenceError(404, f"no organisation {org_id}")
    return org


def list_organisations(
    session: Session, type_: str | None, municipality: str | None
) -> list[Organisation]:
    """Organisations by name, filtered by type and municipality."""
    query = select(Organisation)
    if type_ is not None:
        query = query.where(Organisation.type == type_)
    if municipality is not None:
        if not municipality_exists(session, municipality):
            raise ReferenceError(
                422, f"unknown CBS municipality code {municipality!r}", "municipality"
            )
        query = query.where(Organisation.municipality_code == municipality)
    return sorted(session.scalars(query), key=lambda o: (name_key(o.name), o.id))


def contacts_of(session: Session, org_id: int) -> list[ContactPerson]:
    """An organisation's contact persons: active ones first, then by name."""
    return sorted(
        session.scalars(select(ContactPerson).where(ContactPerson.organisation_id == org_id)),
        key=lambda c: (not c.active, c.name.casefold(), c.id),
    )


def add_contact(session: Session, org_id: int, values: dict[str, Any]) -> ContactPerson:
    """Add a fixed contact person to an active organisation."""
    org = get_organisation(session, org_id)
    if not org.active:
        raise ReferenceError(409, f"organisation {org_id} is inactive")
    contact = ContactPerson(organisation_id=org_id, **values)
    session.add(contact)
    session.commit()
    return contact


def get_contact(session: Session, org_id: int, contact_id: int) -> ContactPerson:
    get_organisation(session, org_id)
    contact = session.get(ContactPerson, contact_id)
    if contact is None or contact.organisation_id != org_id:
        raise ReferenceError(404, f"organisation {org_id} has no contact person {contact_id}")
    return contact


def update_contact(
    session: Session, org_id: int, contact_id: int, values: dict[str, Any]
) -> ContactPerson:
    """Change a contact person's details or (active=false) take them off the list."""
    contact = get_contact(session, org_id, contact_id)
    for name, value in values.items():
        setattr(contact, name, value)
    session.commit()
    return contact


def deactivate_contact(session: Session, org_id: int, contact_id: int) -> ContactPerson:
    """Take a contact person off the list; kept for the history that names them."""
    return update_contact(session, org_id, contact_id, {"active": False})


def sync_regions(session: Session, regions: dict[str, str], *, dry_run: bool = False) -> list[str]:
    """Set every municipality's centrumgemeente from a full region file (code,
    centrumgemeente_code): listed ones get theirs, unlisted ones none. One transaction.
    Returns the lines to print."""
    lines: list[str] = []
    try:
        municipalities = list(session.scalars(select(Municipality).order_by(Municipality.code)))
        known = {m.code for m in municipalities}
        unknown = sorted(set(regions) - known)
        if unknown:
            raise ReferenceFileError(1, f"unknown municipality codes: {', '.join(unknown)}")
        # Centres first, so a member never points at a row that is not yet a centre.
        for m in sorted(municipalities, key=lambda m: regions.get(m.code) != m.code):
            wanted = regions.get(m.code)
            if m.centrumgemeente_code != wanted:
                lines.append(
                    f"{m.code} {m.name}: {m.centrumgemeente_code or '-'} -> {wanted or '-'}"
                )
                m.centrumgemeente_code = wanted
                session.flush()
        centres = sorted({c for c in regions.values()})
        lines.append(
            f"{len(centres)} centrumgemeenten, {len(regions)} municipalities in a region, "
            f"{len(lines)} changed"
        )
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return lines
