"""case meetings, agendas and minutes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meeting_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_meeting_cursors")),
    )
    op.create_table(
        "meeting_series",
        sa.Column("id", BigId, nullable=False),
        sa.Column("municipality_code", sa.String(length=4), nullable=False),
        sa.Column("region", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=False),
        sa.Column("start_local", sa.String(length=19), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("organisations", sa.JSON(), nullable=False),
        sa.Column("materialized_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_meeting_series_municipality_code_municipalities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_series")),
    )
    op.create_index(
        op.f("ix_meeting_series_municipality_code"), "meeting_series", ["municipality_code"]
    )
    op.create_table(
        "meetings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("series_id", BigId, nullable=True),
        sa.Column("municipality_code", sa.String(length=4), nullable=False),
        sa.Column("region", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("organisations", sa.JSON(), nullable=False),
        sa.Column("sequence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=128), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=128), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_meetings_municipality_code_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["meeting_series.id"], name=op.f("fk_meetings_series_id_meeting_series")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("series_id", "slot_at", name=op.f("uq_meetings_series_id_slot_at")),
    )
    op.create_index(
        "ix_meetings_municipality_starts", "meetings", ["municipality_code", "starts_at"]
    )
    op.create_index(op.f("ix_meetings_starts_at"), "meetings", ["starts_at"])
    op.create_table(
        "meeting_actions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("meeting_id", BigId, nullable=False),
        sa.Column("case_action_id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=True),
        sa.Column("owner_organisation_id", BigId, nullable=True),
        sa.Column("owner_contact_id", BigId, nullable=True),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_action_id"],
            ["case_actions.id"],
            name=op.f("fk_meeting_actions_case_action_id_case_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_meeting_actions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_actions_meeting_id_meetings")
        ),
        sa.ForeignKeyConstraint(
            ["owner_contact_id"],
            ["contact_persons.id"],
            name=op.f("fk_meeting_actions_owner_contact_id_contact_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_meeting_actions_owner_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_actions")),
        sa.UniqueConstraint("case_action_id", name=op.f("uq_meeting_actions_case_action_id")),
    )
    op.create_index(op.f("ix_meeting_actions_case_id"), "meeting_actions", ["case_id"])
    op.create_index(op.f("ix_meeting_actions_deadline"), "meeting_actions", ["deadline"])
    op.create_index(op.f("ix_meeting_actions_meeting_id"), "meeting_actions", ["meeting_id"])
    op.create_table(
        "meeting_cases",
        sa.Column("id", BigId, nullable=False),
        sa.Column("meeting_id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_meeting_cases_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_cases_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_cases")),
        sa.UniqueConstraint(
            "meeting_id", "case_id", name=op.f("uq_meeting_cases_meeting_id_case_id")
        ),
    )
    op.create_index(op.f("ix_meeting_cases_case_id"), "meeting_cases", ["case_id"])
    op.create_table(
        "meeting_minutes",
        sa.Column("meeting_id", BigId, nullable=False),
        sa.Column("attendance", sa.JSON(), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("action_reviews", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_minutes_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_meeting_minutes")),
    )
    op.create_table(
        "meeting_triggers",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("meeting_id", BigId, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_meeting_triggers_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_triggers_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meeting_triggers")),
    )
    op.create_index(op.f("ix_meeting_triggers_case_id"), "meeting_triggers", ["case_id"])
    op.create_index(op.f("ix_meeting_triggers_meeting_id"), "meeting_triggers", ["meeting_id"])


def downgrade() -> None:
    op.drop_table("meeting_triggers")
    op.drop_table("meeting_minutes")
    op.drop_table("meeting_cases")
    op.drop_table("meeting_actions")
    op.drop_table("meetings")
    op.drop_table("meeting_series")
    op.drop_table("meeting_cursors")
