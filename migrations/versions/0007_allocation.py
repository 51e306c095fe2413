"""AWARE allocation workflow: applications, decisions, reviews, extensions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "allocations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("referring_organisation_id", BigId, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("concern", sa.String(length=16), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(length=128), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_id", BigId, nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("support_organisation_id", BigId, nullable=True),
        sa.Column("support_contact_person_id", BigId, nullable=True),
        sa.Column("support_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("term_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("term_reminder_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("term_reminder_action_id", BigId, nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("end_note", sa.Text(), nullable=True),
        sa.Column("ended_by", sa.String(length=128), nullable=True),
        sa.Column("handover_organisation_id", BigId, nullable=True),
        sa.Column("handover_planned_on", sa.Date(), nullable=True),
        sa.Column("handover_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handover_completed_by", sa.String(length=128), nullable=True),
        sa.Column("handover_action_id", BigId, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_allocations_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_allocations_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["handover_action_id"],
            ["case_actions.id"],
            name=op.f("fk_allocations_handover_action_id_case_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["handover_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_allocations_handover_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["referring_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_allocations_referring_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["support_contact_person_id"],
            ["contact_persons.id"],
            name=op.f("fk_allocations_support_contact_person_id_contact_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["support_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_allocations_support_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["term_reminder_action_id"],
            ["case_actions.id"],
            name=op.f("fk_allocations_term_reminder_action_id_case_actions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocations_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocations_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_allocations_active_device",
            ["device_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.create_index(
            "uq_allocations_open_case",
            ["case_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('applied', 'waiting_list', 'granted', 'active')"),
            postgresql_where=sa.text("status IN ('applied', 'waiting_list', 'granted', 'active')"),
        )

    op.create_table(
        "allocation_decisions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("allocation_id", BigId, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_allocation_decisions_allocation_id_allocations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_decisions")),
    )
    with op.batch_alter_table("allocation_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocation_decisions_allocation_id"), ["allocation_id"], unique=False
        )

    op.create_table(
        "allocation_extensions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("allocation_id", BigId, nullable=False),
        sa.Column("previous_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extended_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_allocation_extensions_allocation_id_allocations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_extensions")),
    )
    with op.batch_alter_table("allocation_extensions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocation_extensions_allocation_id"), ["allocation_id"], unique=False
        )

    op.create_table(
        "allocation_reviews",
        sa.Column("id", BigId, nullable=False),
        sa.Column("allocation_id", BigId, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reminder_action_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_allocation_reviews_allocation_id_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["reminder_action_id"],
            ["case_actions.id"],
            name=op.f("fk_allocation_reviews_reminder_action_id_case_actions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_reviews")),
        sa.UniqueConstraint(
            "allocation_id", "due_at", name=op.f("uq_allocation_reviews_allocation_id_due_at")
        ),
    )
    with op.batch_alter_table("allocation_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocation_reviews_due_at"), ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("allocation_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_reviews_due_at"))

    op.drop_table("allocation_reviews")
    with op.batch_alter_table("allocation_extensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_extensions_allocation_id"))

    op.drop_table("allocation_extensions")
    with op.batch_alter_table("allocation_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_decisions_allocation_id"))

    op.drop_table("allocation_decisions")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_allocations_open_case",
            sqlite_where=sa.text("status IN ('applied', 'waiting_list', 'granted', 'active')"),
            postgresql_where=sa.text("status IN ('applied', 'waiting_list', 'granted', 'active')"),
        )
        batch_op.drop_index(
            "uq_allocations_active_device",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_allocations_status"))
        batch_op.drop_index(batch_op.f("ix_allocations_case_id"))

    op.drop_table("allocations")
