"""groups and classes: a class's seats and settings, a seat's class, the class's seat lock

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-30 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_seats', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('min_cancel_time', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('seat_version', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('owner_booking_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_bookings_owner_booking_id_bookings'), 'bookings',
            ['owner_booking_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_bookings_owner_booking_state',
                              ['owner_booking_id', 'state'], unique=False)


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_owner_booking_state')
        batch_op.drop_constraint(batch_op.f('fk_bookings_owner_booking_id_bookings'),
                                 type_='foreignkey')
        batch_op.drop_column('owner_booking_id')
        batch_op.drop_column('seat_version')
        batch_op.drop_column('min_cancel_time')
        batch_op.drop_column('max_seats')
