"""pet values: category and tags stored in the pet as sent; triggers keep what derives from pets

Categories and tags were shared rows (one name, one id), so two clients sending the same
name with different ids conflicted, and each pet also kept a JSON copy of itself
(``document``). Now a pet's ``category`` and ``tags`` are JSON values in its row, read back
exactly as they were stored; the copy is gone (the database renders the wire JSON when it
reads); ``pet_tag_names`` (for findByTags) and the catalog version are kept by triggers.

Every pet reads back as before: its category ``{id, name}`` and its tags in their order.

Revision ID: 0004
Revises: 0007
Create Date: 2026-11-30 17:40:00

"""
import json

from alembic import op
import sqlalchemy as sa

from timekit_api.database import triggers


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0007'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
CHUNK = 2000


def _named(ident, name) -> dict:
    return {key: value for key, value in (("id", ident), ("name", name)) if value is not None}


def upgrade():
    op.create_table('pet_tag_names',
    sa.Column('pet_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('pet_id', 'name', name=op.f('pk_pet_tag_names'))
    )
    with op.batch_alter_table('pet_tag_names', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pet_tag_names_name'), ['name'], unique=False)
    op.create_table('id_counters',
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('table_name', name=op.f('pk_id_counters'))
    )
    with op.batch_alter_table('pets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=True))

    # Copy each pet's category and tags into its own row, in chunks of ids.
    connection = op.get_bind()
    pets = sa.table('pets', sa.column('id'), sa.column('category_id'),
                    sa.column('category', sa.JSON(none_as_null=True)),
                    sa.column('tags', sa.JSON(none_as_null=True)))
    categories = dict(connection.execute(sa.text("SELECT id, name FROM categories")).all())
    tag_names = dict(connection.execute(sa.text("SELECT id, name FROM tags")).all())
    last = None
    while True:
        query = sa.select(pets.c.id, pets.c.category_id).order_by(pets.c.id).limit(CHUNK)
        if last is not None:
            query = query.where(pets.c.id > last)
        rows = connection.execute(query).all()
        if not rows:
            break
        last = rows[-1].id
        links = connection.execute(sa.text(
            "SELECT pet_id, tag_id FROM pet_tags WHERE pet_id BETWEEN :low AND :high "
            "ORDER BY pet_id, position, tag_id"), {"low": rows[0].id, "high": last}).all()
        tags_of = {}
        for pet_id, tag_id in links:
            tags_of.setdefault(pet_id, []).append(_named(tag_id, tag_names.get(tag_id)))
        connection.execute(
            sa.update(pets).where(pets.c.id == sa.bindparam('pet_id')),
            [{"pet_id": row.id,
              "category": (None if row.category_id is None
                           else _named(row.category_id, categories.get(row.category_id))),
              "tags": tags_of.get(row.id, [])} for row in rows])

    with op.batch_alter_table('pets', schema=None) as batch_op:
        batch_op.drop_constraint('fk_pets_category_id_categories', type_='foreignkey')
        batch_op.drop_column('category_id')
        batch_op.drop_column('document')
    with op.batch_alter_table('pet_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pet_tags_tag_id'))
    op.drop_table('pet_tags')
    op.drop_table('tags')
    op.drop_table('categories')

    # The triggers, after the last rebuild of ``pets`` (SQLite's batch mode recreates the
    # table and its triggers would go with it); rewriting every pet's tags fills the index.
    triggers.create(connection)
    connection.execute(sa.text("UPDATE pets SET tags = tags"))


def downgrade():
    connection = op.get_bind()
    triggers.drop(connection)
    op.create_table('categories',
    sa.Column('id', BigId, nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories')),
    sa.UniqueConstraint('name', name=op.f('uq_categories_name'))
    )
    op.create_table('tags',
    sa.Column('id', BigId, nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('name', name=op.f('uq_tags_name'))
    )
    op.create_table('pet_tags',
    sa.Column('pet_id', BigId, nullable=False),
    sa.Column('tag_id', BigId, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pet_id'], ['pets.id'], name=op.f('fk_pet_tags_pet_id_pets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_pet_tags_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pet_id', 'tag_id', name=op.f('pk_pet_tags'))
    )
    with op.batch_alter_table('pet_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pet_tags_tag_id'), ['tag_id'], unique=False)
    with op.batch_alter_table('pets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category_id', BigId, nullable=True))
        batch_op.add_column(sa.Column('document', sa.Text(), nullable=False, server_default=''))
        batch_op.create_foreign_key('fk_pets_category_id_categories', 'categories',
                                    ['category_id'], ['id'], ondelete='SET NULL')

    # Shared rows again: the first pet to use an id or a name decides it; values that the
    # old schema cannot hold (the same name under two ids) lose their id.
    rows = connection.execute(sa.text(
        "SELECT id, name, status, category, photo_urls, tags FROM pets ORDER BY id")).all()
    shared = {"categories": ({}, {}), "tags": ({}, {})}

    def resolve(kind, value):
        by_id, by_name = shared[kind]
        if not isinstance(value, dict):
            return None
        ident, name = value.get("id"), value.get("name")
        if name in by_name:
            return by_name[name]
        if isinstance(ident, int) and ident >= 1 and ident not in by_id.values():
            chosen = ident
        else:
            chosen = max([0, *by_id.values()]) + 1
        by_id[chosen] = chosen
        by_name[name] = chosen
        connection.execute(sa.text(f"INSERT INTO {kind} (id, name) VALUES (:id, :name)"),
                           {"id": chosen, "name": name})
        return chosen

    def loaded(value):
        return json.loads(value) if isinstance(value, str) else value

    for row in rows:
        category, tags = loaded(row.category), loaded(row.tags) or []
        category_id = resolve("categories", category)
        tag_ids = []
        for tag in tags:
            tag_id = resolve("tags", tag)
            if tag_id is not None and tag_id not in tag_ids:
                tag_ids.append(tag_id)
        for position, tag_id in enumerate(tag_ids):
            connection.execute(sa.text(
                "INSERT INTO pet_tags (pet_id, tag_id, position) VALUES (:p, :t, :i)"),
                {"p": row.id, "t": tag_id, "i": position})
        document = {"id": row.id, "category": category, "name": row.name,
                    "photoUrls": loaded(row.photo_urls), "tags": tags, "status": row.status}
        connection.execute(sa.text(
            "UPDATE pets SET category_id = :c, document = :d WHERE id = :id"),
            {"c": category_id, "id": row.id, "d": json.dumps(
                {k: v for k, v in document.items() if v is not None}, separators=(",", ":"))})

    with op.batch_alter_table('pets', schema=None) as batch_op:
        batch_op.drop_column('tags')
        batch_op.drop_column('category')
    op.drop_table('id_counters')
    with op.batch_alter_table('pet_tag_names', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pet_tag_names_name'))
    op.drop_table('pet_tag_names')
    # 0003's ORM events bumped the version: any answer cached before the downgrade is stale.
    connection.execute(sa.text("UPDATE catalog_version SET version = version + 1"))
