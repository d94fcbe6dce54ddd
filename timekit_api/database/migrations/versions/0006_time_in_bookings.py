"""time in the booking engine: due automatic transitions, payments, the service clock

Revision ID: 0006
Revises: 0008
Create Date: 2026-11-30 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('due_state', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('payment_id', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_bookings_due_at'), ['due_at'], unique=False)
        batch_op.create_index('ix_bookings_booker_start', ['booker_id', 'starts_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_bookings_resource_start', ['resource_id', 'starts_at', 'id'],
                              unique=False)
    with op.batch_alter_table('booking_transitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_kind', sa.String(length=16), nullable=True))

    table = op.create_table('service_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offset_microseconds', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_clock'))
    )
    op.bulk_insert(table, [{'id': 1, 'offset_microseconds': 0}])


def downgrade():
    op.drop_table('service_clock')
    with op.batch_alter_table('booking_transitions', schema=None) as batch_op:
        batch_op.drop_column('actor_kind')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_resource_start')
        batch_op.drop_index('ix_bookings_booker_start')
        batch_op.drop_index(batch_op.f('ix_bookings_due_at'))
        batch_op.drop_column('payment_id')
        batch_op.drop_column('due_state')
        batch_op.drop_column('due_at')
