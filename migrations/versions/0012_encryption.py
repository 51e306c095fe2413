"""personal fields encrypted at rest

Victim and perpetrator details on cases and the phone and e-mail of partner organisations'
contact persons become Fernet tokens (aware.crypto). The columns are widened to hold the token
of their longest allowed value (home coordinates become text), and rows written before this
revision are encrypted in place, in pages of 500 rows, with the configured data key
(AWARE_DATA_KEYS, or the instance folder's development key: the key the app itself uses).
The downgrade decrypts them again and restores the old types. Alembic runs the whole revision
in one transaction on both databases: it is encrypted completely or not at all.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

import re
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from aware import crypto

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 500

# table -> [(column, longest plaintext in characters, type before this revision)]; frozen here
# (not read from the models) so this revision means the same thing forever.
TEXT_COLUMNS: dict[str, list[tuple[str, int, sa.types.TypeEngine[str]]]] = {
    "cases": [
        ("victim_name", 200, sa.String(length=200)),
        ("victim_phone", 32, sa.String(length=32)),
        ("victim_address", 300, sa.String(length=300)),
        ("perpetrator_name", 200, sa.String(length=200)),
        ("perpetrator_description", 2000, sa.Text()),
        ("perpetrator_vehicle", 200, sa.String(length=200)),
    ],
    "contact_persons": [
        ("phone", 32, sa.String(length=32)),
        ("email", 200, sa.String(length=200)),
    ],
}
FLOAT_COLUMNS = {"cases": ["victim_home_lat", "victim_home_lon"]}
NOT_NULL = {("cases", "victim_name")}


def _columns(table: str) -> list[str]:
    return [c for c, _, _ in TEXT_COLUMNS[table]] + FLOAT_COLUMNS.get(table, [])


def _convert(table: str, cols: list[str], convert: Callable[[str], str]) -> None:
    """Apply `convert` to every non-null value of these columns, page by page."""
    conn = op.get_bind()
    t = sa.table(table, sa.column("id"), *(sa.column(c, sa.Text()) for c in cols))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(t.c.id, *(t.c[c] for c in cols))
            .where(t.c.id > last)
            .order_by(t.c.id)
            .limit(PAGE)
        ).all()
        if not rows:
            return
        for row in rows:
            values = {
                c: convert(str(v)) for c, v in zip(cols, row[1:], strict=True) if v is not None
            }
            if values:
                conn.execute(sa.update(t).where(t.c.id == row.id).values(**values))
        last = rows[-1].id


def _read_floats() -> dict[int, tuple[float | None, float | None]]:
    """Home coordinates as floats, read before their columns become text (exact repr kept)."""
    conn = op.get_bind()
    t = sa.table(
        "cases",
        sa.column("id"),
        sa.column("victim_home_lat", sa.Float()),
        sa.column("victim_home_lon", sa.Float()),
    )
    return {
        r.id: (r.victim_home_lat, r.victim_home_lon)
        for r in conn.execute(
            sa.select(t.c.id, t.c.victim_home_lat, t.c.victim_home_lon).where(
                sa.or_(t.c.victim_home_lat.is_not(None), t.c.victim_home_lon.is_not(None))
            )
        )
    }


def _on_sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def _sqlite_retype(table: str, types: dict[str, str]) -> None:
    """Change declared column types in place (SQLite's documented schema edit).

    Batch mode would copy the table and drop the original, which fails the foreign keys of
    every row referring to a case (SQLite cannot switch foreign keys off inside the
    migration's transaction). SQLite stores any type in any column, so only the declared type
    changes here; the values are rewritten right after.
    """
    conn = op.get_bind()
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    for name, decl in types.items():
        sql, n = re.subn(
            rf"(?m)^(\s*){name} [A-Z]+(\(\d+\))?",
            lambda m, n=name, d=decl: f"{m.group(1)}{n} {d}",
            sql,
        )
        if n != 1:
            raise RuntimeError(f"cannot find column {table}.{name} in its CREATE TABLE")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
        )
        conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def _retype(table: str, new: dict[str, sa.types.TypeEngine[Any]], old: dict[str, Any]) -> None:
    """Give columns new types: ALTER on PostgreSQL (floats cast), a schema edit on SQLite."""
    if _on_sqlite():
        dialect = op.get_bind().dialect
        _sqlite_retype(table, {c: t.compile(dialect=dialect) for c, t in new.items()})
        return
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name, type_ in new.items():
            using = None
            if isinstance(old[name], sa.Float):
                using = f"{name}::text"
            elif isinstance(type_, sa.Float):
                using = f"{name}::double precision"
            batch_op.alter_column(
                name,
                existing_type=old[name],
                type_=type_,
                existing_nullable=(table, name) not in NOT_NULL,
                postgresql_using=using,
            )


def _wide_types(table: str) -> dict[str, sa.types.TypeEngine[Any]]:
    types: dict[str, sa.types.TypeEngine[Any]] = {
        c: sa.String(length=crypto.token_length(4 * chars)) for c, chars, _ in TEXT_COLUMNS[table]
    }
    for c in FLOAT_COLUMNS.get(table, []):
        types[c] = sa.String(length=crypto.FLOAT_TOKEN_LENGTH)
    return types


def _plain_types(table: str) -> dict[str, sa.types.TypeEngine[Any]]:
    types: dict[str, sa.types.TypeEngine[Any]] = {c: old for c, _, old in TEXT_COLUMNS[table]}
    for c in FLOAT_COLUMNS.get(table, []):
        types[c] = sa.Float()
    return types


def upgrade() -> None:
    keyring = crypto.current()
    homes = _read_floats()
    for table in TEXT_COLUMNS:
        _retype(table, _wide_types(table), _plain_types(table))
    for table, columns in TEXT_COLUMNS.items():
        _convert(table, [c for c, _, _ in columns], keyring.encrypt)
    # Coordinates again from the exact floats (a cast to text may round on SQLite).
    conn = op.get_bind()
    t = sa.table(
        "cases", sa.column("id"), sa.column("victim_home_lat"), sa.column("victim_home_lon")
    )
    for case_id, (lat, lon) in homes.items():
        conn.execute(
            sa.update(t)
            .where(t.c.id == case_id)
            .values(
                victim_home_lat=None if lat is None else keyring.encrypt(repr(float(lat))),
                victim_home_lon=None if lon is None else keyring.encrypt(repr(float(lon))),
            )
        )


def downgrade() -> None:
    keyring = crypto.current()
    for table in TEXT_COLUMNS:
        _convert(table, _columns(table), keyring.decrypt)
    for table in TEXT_COLUMNS:
        _retype(table, _plain_types(table), _wide_types(table))
    if _on_sqlite():
        # SQLite keeps the decrypted coordinates as text until told they are numbers.
        t = sa.table("cases", *(sa.column(c) for c in FLOAT_COLUMNS["cases"]))
        for c in FLOAT_COLUMNS["cases"]:
            op.execute(
                sa.update(t).where(t.c[c].is_not(None)).values({c: sa.cast(t.c[c], sa.Float)})
            )
