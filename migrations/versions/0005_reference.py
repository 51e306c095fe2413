"""municipalities and partner organisations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aware.coordination.reference import shipped_municipalities, shipped_regions

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "municipalities",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("province", sa.String(length=50), nullable=True),
        sa.Column("centrumgemeente_code", sa.String(length=4), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centrumgemeente_code"],
            ["municipalities.code"],
            name=op.f("fk_municipalities_centrumgemeente_code_municipalities"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_municipalities")),
    )
    with op.batch_alter_table("municipalities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_municipalities_centrumgemeente_code"), ["centrumgemeente_code"]
        )
    op.create_table(
        "organisations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("municipality_code", sa.String(length=4), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_organisations_municipality_code_municipalities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisations_municipality_code"), ["municipality_code"]
        )
        batch_op.create_index(batch_op.f("ix_organisations_type"), ["type"])
    op.create_table(
        "contact_persons",
        sa.Column("id", BigId, nullable=False),
        sa.Column("organisation_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_contact_persons_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_persons")),
    )
    with op.batch_alter_table("contact_persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_persons_organisation_id"), ["organisation_id"])
    # Data step: a fresh database knows every Dutch municipality (the shipped CBS list) and
    # the centrumgemeenten that could be verified (aware/data/README.md says which).
    municipalities = sa.table(
        "municipalities",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("province", sa.String),
        sa.column("centrumgemeente_code", sa.String),
        sa.column("active", sa.Boolean),
    )
    op.bulk_insert(
        municipalities,
        [
            {"code": r.code, "name": r.name, "province": r.province, "active": True}
            for r in shipped_municipalities()
        ],
    )
    # After the insert: the region column refers to rows of the same table.
    for code, centre in sorted(shipped_regions().items()):
        op.execute(
            municipalities.update()
            .where(municipalities.c.code == code)
            .values(centrumgemeente_code=centre)
        )


def downgrade() -> None:
    op.drop_table("contact_persons")
    op.drop_table("organisations")
    op.drop_table("municipalities")
