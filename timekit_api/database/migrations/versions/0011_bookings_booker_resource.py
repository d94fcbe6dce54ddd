"""Bookings: index (booker_id, resource_id) in place of (booker_id)

The bookings list counts the bookings a user both made and owns the pet of; this index
answers that from the index alone (benchmarks/PROFILE.md, "bookings list"). It serves
everything the single-column index did (its first column is booker_id).

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-30 21:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_bookings_booker_resource', 'bookings', ['booker_id', 'resource_id'])
    op.drop_index('ix_bookings_booker_id', table_name='bookings')


def downgrade():
    op.create_index('ix_bookings_booker_id', 'bookings', ['booker_id'])
    op.drop_index('ix_bookings_booker_resource', table_name='bookings')
