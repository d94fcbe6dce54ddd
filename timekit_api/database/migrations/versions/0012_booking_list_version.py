"""booking list version: one row counting booking writes, so processes can reuse list pages

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 04:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

from timekit_api.database import triggers


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('booking_list_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_list_version'))
    )
    op.bulk_insert(table, [{'id': 1, 'version': 0}])
    triggers.create_booking_list(op.get_bind())


def downgrade():
    triggers.drop_booking_list(op.get_bind())
    op.drop_table('booking_list_version')
