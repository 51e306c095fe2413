"""cases, screenings, actions, coordinators, device links, bans, ban watches

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('municipality_code', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('referral_source', sa.String(length=16), nullable=False),
    sa.Column('ex_partner', sa.Boolean(), nullable=False),
    sa.Column('victim_name', sa.String(length=200), nullable=False),
    sa.Column('victim_phone', sa.String(length=32), nullable=True),
    sa.Column('victim_address', sa.String(length=300), nullable=True),
    sa.Column('victim_home_lat', sa.Float(), nullable=True),
    sa.Column('victim_home_lon', sa.Float(), nullable=True),
    sa.Column('perpetrator_name', sa.String(length=200), nullable=True),
    sa.Column('perpetrator_description', sa.Text(), nullable=True),
    sa.Column('perpetrator_vehicle', sa.String(length=200), nullable=True),
    sa.Column('concern', sa.String(length=16), nullable=True),
    sa.Column('reassess_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('eligible_aware', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('reference', name=op.f('uq_cases_reference'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_municipality_code'), ['municipality_code'], unique=False)

    op.create_table('assessments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instrument_id', sa.String(length=64), nullable=False),
    sa.Column('instrument_version', sa.String(length=32), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('concern', sa.String(length=16), nullable=False),
    sa.Column('assessor_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('assessor_name', sa.String(length=128), nullable=False),
    sa.Column('organisation', sa.String(length=32), nullable=True),
    sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reassess_due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assessor_user_id'], ['users.id'], name=op.f('fk_assessments_assessor_user_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_assessments_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments'))
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessments_case_id'), ['case_id'], unique=False)

    op.create_table('bans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('zones', sa.JSON(), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('warning_margin_m', sa.Float(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('legal_basis', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_bans_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bans'))
    )
    with op.batch_alter_table('bans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bans_case_id'), ['case_id'], unique=False)

    op.create_table('case_actions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=128), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_actions_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_actions'))
    )
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_actions_case_id'), ['case_id'], unique=False)

    op.create_table('case_coordinators',
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_coordinators_case_id_cases')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_coordinators_user_id_users')),
    sa.PrimaryKeyConstraint('case_id', 'user_id', name=op.f('pk_case_coordinators'))
    )
    op.create_table('case_devices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('unlinked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_devices_case_id_cases')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_case_devices_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_devices'))
    )
    with op.batch_alter_table('case_devices', schema=None) as batch_op:
        batch_op.create_index('uq_case_devices_active_device', ['device_id'], unique=True, sqlite_where=sa.text('unlinked_at IS NULL'), postgresql_where=sa.text('unlinked_at IS NULL'))
        batch_op.create_index('uq_case_devices_active_role', ['case_id', 'role'], unique=True, sqlite_where=sa.text('unlinked_at IS NULL'), postgresql_where=sa.text('unlinked_at IS NULL'))

    op.create_table('ban_watches',
    sa.Column('ban_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('open_alarm_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ban_id'], ['bans.id'], name=op.f('fk_ban_watches_ban_id_bans')),
    sa.ForeignKeyConstraint(['open_alarm_id'], ['alarms.id'], name=op.f('fk_ban_watches_open_alarm_id_alarms')),
    sa.PrimaryKeyConstraint('ban_id', 'key', name=op.f('pk_ban_watches'))
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ban_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('late', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('detail', sa.JSON(), nullable=True))
        batch_op.alter_column('case_id',
               existing_type=sa.BIGINT(),
               type_=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               existing_nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_alarms_case_id_cases'), 'cases', ['case_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_alarms_ban_id_bans'), 'bans', ['ban_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_alarms_ban_id_bans'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_alarms_case_id_cases'), type_='foreignkey')
        batch_op.alter_column('case_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               type_=sa.BIGINT(),
               existing_nullable=True)
        batch_op.drop_column('detail')
        batch_op.drop_column('late')
        batch_op.drop_column('ban_id')

    op.drop_table('ban_watches')
    with op.batch_alter_table('case_devices', schema=None) as batch_op:
        batch_op.drop_index('uq_case_devices_active_role', sqlite_where=sa.text('unlinked_at IS NULL'), postgresql_where=sa.text('unlinked_at IS NULL'))
        batch_op.drop_index('uq_case_devices_active_device', sqlite_where=sa.text('unlinked_at IS NULL'), postgresql_where=sa.text('unlinked_at IS NULL'))

    op.drop_table('case_devices')
    op.drop_table('case_coordinators')
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_actions_case_id'))

    op.drop_table('case_actions')
    with op.batch_alter_table('bans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bans_case_id'))

    op.drop_table('bans')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessments_case_id'))

    op.drop_table('assessments')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_municipality_code'))

    op.drop_table('cases')
