"""resource settings: how each pet may be booked by others

Revision ID: 0007
Revises: 0010
Create Date: 2026-11-30 17:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('resource_settings',
    sa.Column('pet_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('graphs', sa.JSON(), nullable=False),
    sa.Column('availability_constraints', sa.JSON(), nullable=False),
    sa.Column('min_booking_notice', sa.String(length=32), nullable=False),
    sa.Column('max_booking_horizon', sa.String(length=32), nullable=False),
    sa.Column('max_booking_length', sa.String(length=32), nullable=False),
    sa.Column('buffer', sa.String(length=32), nullable=False),
    sa.Column('max_live_bookings_per_booker', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pet_id'], ['pets.id'], name=op.f('fk_resource_settings_pet_id_pets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pet_id', name=op.f('pk_resource_settings'))
    )


def downgrade():
    op.drop_table('resource_settings')
