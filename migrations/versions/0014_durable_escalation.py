"""durable escalation: due escalation work and victim texts kept (and claimed) in the database

- alarms.escalation_next_at (indexed): when escalation work on the alarm next falls due, so any
  live process (each `aware serve`, `aware scheduler`) finds and claims it, whoever raised it;
- alarms.escalation_sending: the firing a process claimed and is sending; escalation_next_at is
  then its send lease, so a firing whose sender died mid-send is sent by another process;
- alarms.victim_sms_claimed_at: the victim's text about an approach alarm is claimed here
  before it is sent, so two processes never text her twice.

Open alarms still carrying an escalation token are due at once (every process plans their
exact time on its next poll); alarms whose victim text is already on the timeline count as
claimed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VICTIM_ACTIONS = ("victim_notified", "victim_notification_failed", "victim_notification_not_sent")


def upgrade() -> None:
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("escalation_next_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("victim_sms_claimed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("escalation_sending", sa.Integer(), nullable=True))
        batch_op.create_index("ix_alarms_escalation_next_at", ["escalation_next_at"], unique=False)
    op.execute(
        "UPDATE alarms SET escalation_next_at = received_at "
        "WHERE status = 'open' AND escalation_token IS NOT NULL"
    )
    log = sa.table("alarm_log", sa.column("alarm_id"), sa.column("action"))
    alarms = sa.table(
        "alarms", sa.column("id"), sa.column("received_at"), sa.column("victim_sms_claimed_at")
    )
    texted = sa.select(log.c.alarm_id).where(log.c.action.in_(VICTIM_ACTIONS))
    op.execute(
        sa.update(alarms)
        .where(alarms.c.id.in_(texted))
        .values(victim_sms_claimed_at=alarms.c.received_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_alarms_escalation_next_at")
        batch_op.drop_column("escalation_sending")
        batch_op.drop_column("victim_sms_claimed_at")
        batch_op.drop_column("escalation_next_at")
