"""device stock: status and owning municipality of each device

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="in_stock", nullable=False)
        )
        batch_op.add_column(sa.Column("municipality_code", sa.String(length=4), nullable=True))
        batch_op.create_index(batch_op.f("ix_devices_municipality_code"), ["municipality_code"])
        batch_op.create_foreign_key(
            batch_op.f("fk_devices_municipality_code_municipalities"),
            "municipalities",
            ["municipality_code"],
            ["code"],
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_devices_municipality_code_municipalities"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_devices_municipality_code"))
        batch_op.drop_column("municipality_code")
        batch_op.drop_column("status")
