"""alarm escalation state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('escalation_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('escalations_fired', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_column('escalations_fired')
        batch_op.drop_column('escalation_token')
        batch_op.drop_column('escalation')

