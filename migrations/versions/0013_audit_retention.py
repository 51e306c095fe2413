"""audit of personal-data reads, retention

- audit_entry_cases: the cases an audited act touched when it touched several at once (case
  lists, console snapshots), append-only like audit_entries (ORM guard and triggers);
- an index on audit_entries (action, at) for the admin's filters;
- case_anonymisations: which ended cases retention anonymised, and when.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Same refusal as audit_entries (0009): rows are only ever inserted.
_PG_FUNCTION = """
CREATE FUNCTION audit_entry_cases_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry_cases is append-only';
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER audit_entry_cases_append_only BEFORE UPDATE OR DELETE ON audit_entry_cases
FOR EACH ROW EXECUTE FUNCTION audit_entry_cases_append_only()
"""
_SQLITE_TRIGGERS = [
    f"""
CREATE TRIGGER audit_entry_cases_no_{what.lower()} BEFORE {what} ON audit_entry_cases
BEGIN
    SELECT RAISE(ABORT, 'audit_entry_cases is append-only');
END
"""
    for what in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    op.create_index("ix_audit_entries_action_at", "audit_entries", ["action", "at"], unique=False)
    op.create_table(
        "audit_entry_cases",
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["audit_entries.id"],
            name=op.f("fk_audit_entry_cases_entry_id_audit_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_audit_entry_cases_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("entry_id", "case_id", name=op.f("pk_audit_entry_cases")),
    )
    op.create_index(
        op.f("ix_audit_entry_cases_case_id"), "audit_entry_cases", ["case_id"], unique=False
    )
    op.create_table(
        "case_anonymisations",
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_anonymisations_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_anonymisations")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        for sql in _SQLITE_TRIGGERS:
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_cases_append_only ON audit_entry_cases")
        op.execute("DROP FUNCTION IF EXISTS audit_entry_cases_append_only()")
    op.drop_table("case_anonymisations")
    op.drop_index(op.f("ix_audit_entry_cases_case_id"), table_name="audit_entry_cases")
    op.drop_table("audit_entry_cases")
    op.drop_index("ix_audit_entries_action_at", table_name="audit_entries")
