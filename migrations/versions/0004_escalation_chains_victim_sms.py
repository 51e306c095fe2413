"""escalation chains per alarm type, escalation status, victim SMS opt-in

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('escalation_chains',
    sa.Column('alarm_type', sa.String(length=32), nullable=False),
    sa.Column('chain', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('alarm_type', name=op.f('pk_escalation_chains'))
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation_status', sa.String(length=16), nullable=True))

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('victim_sms', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('victim_sms')

    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_column('escalation_status')

    op.drop_table('escalation_chains')
