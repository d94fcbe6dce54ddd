"""account safety: sign-in keys, token pairs, per-address sign-in throttle

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 18:05:00

Existing users get their sign-in keys (NFKC + case folding of username and email, as
``domain/accounts.login_key`` computes them; written out here because a migration must not
change when the code does). Where two existing accounts share a key ("USER1" and "user1"),
the older keeps it and the newer gets the key plus " #<id>", which nobody can type at
sign-in: that account must be renamed (`PUT /user/{username}`) to sign in by name again.
"""
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def login_key(value):
    return unicodedata.normalize("NFKC", value).casefold()


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_key', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('email_key', sa.String(length=320), nullable=True))

    users = sa.table('users', sa.column('id', sa.BigInteger()), sa.column('username', sa.String()),
                     sa.column('email', sa.String()), sa.column('username_key', sa.String()),
                     sa.column('email_key', sa.String()))
    connection = op.get_bind()
    seen = set()
    rows = connection.execute(sa.select(users.c.id, users.c.username, users.c.email)
                              .order_by(users.c.id)).all()
    for user_id, username, email in rows:
        keys = {}
        for column, value in (('username_key', username), ('email_key', email)):
            if value is None:
                continue
            key = login_key(value)
            if key in seen:
                key = f"{key} #{user_id}"
            seen.add(key)
            keys[column] = key
        if keys:
            connection.execute(users.update().where(users.c.id == user_id).values(**keys))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_users_username_key'), ['username_key'])
        batch_op.create_unique_constraint(batch_op.f('uq_users_email_key'), ['email_key'])

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pair_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_tokens_pair_id'), ['pair_id'], unique=False)

    op.create_table('address_throttle',
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_address_throttle'))
    )


def downgrade():
    op.drop_table('address_throttle')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_pair_id'))
        batch_op.drop_column('pair_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_email_key'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_users_username_key'), type_='unique')
        batch_op.drop_column('email_key')
        batch_op.drop_column('username_key')
