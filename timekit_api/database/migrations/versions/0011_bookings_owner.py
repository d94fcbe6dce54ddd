"""Bookings: the pet's owner, copied by triggers, and the lists' indexes

Lists read "bookings of my pets" through ``ix_bookings_owner_start`` instead of visiting
every pet of the owner (``database/triggers.py``, "bookings.owner_id"), and count "made by
them and of their pets" from ``ix_bookings_booker_owner`` alone, which also serves all the
single-column ``ix_bookings_booker_id`` did.

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-30 21:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

from timekit_api.database import triggers


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    connection = op.get_bind()
    op.add_column('bookings', sa.Column('owner_id', BigId, nullable=True))
    connection.execute(sa.text(
        "UPDATE bookings SET owner_id = (SELECT owner_id FROM pets "
        "WHERE pets.id = bookings.resource_id)"))
    op.create_index('ix_bookings_owner_start', 'bookings', ['owner_id', 'starts_at', 'id'])
    op.create_index('ix_bookings_booker_owner', 'bookings', ['booker_id', 'owner_id'])
    op.drop_index('ix_bookings_booker_id', table_name='bookings')
    triggers.create_booking_owner(connection)


def downgrade():
    connection = op.get_bind()
    triggers.drop_booking_owner(connection)
    op.create_index('ix_bookings_booker_id', 'bookings', ['booker_id'])
    op.drop_index('ix_bookings_booker_owner', table_name='bookings')
    op.drop_index('ix_bookings_owner_start', table_name='bookings')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('owner_id')
