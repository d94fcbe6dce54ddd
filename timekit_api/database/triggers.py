"""What the database itself derives from ``pets``, whatever path writes them.

Two things follow each pet write, kept by triggers rather than by the application, so the
ORM, a Core or bulk ``UPDATE``, the CLI, a migration, a second instance or a hand-typed SQL
statement all keep them right:

- ``pet_tag_names`` (the index ``findByTags`` reads): the names in the pet's ``tags``;
- ``catalog_version.version`` (``domain/catalog.py``): bumped by every insert, delete, and
  update of a column the wire shows, so each process knows when its cached lists are stale.
  Booking writes (``booking_version``) leave it alone.

Migration 0004 creates them on existing databases; a ``create_all`` creates them with the
``pets`` table (``install``), so the quick-start and test databases have them too.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

# The pet columns that the wire shows: updating one of them changes an answer.
WIRE_COLUMNS = "id, name, status, category, photo_urls, tags"

_BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1;"
_SQLITE_TAG_NAMES = """
    INSERT OR IGNORE INTO pet_tag_names (pet_id, name)
    SELECT NEW.id, json_extract(value, '$.name') FROM json_each(NEW.tags)
    WHERE json_type(value, '$.name') = 'text';"""

SQLITE = [
    f"CREATE TRIGGER pets_inserted AFTER INSERT ON pets BEGIN {_BUMP} {_SQLITE_TAG_NAMES} END",
    f"CREATE TRIGGER pets_updated AFTER UPDATE OF {WIRE_COLUMNS} ON pets BEGIN {_BUMP} END",
    "CREATE TRIGGER pets_tags_updated AFTER UPDATE OF id, tags ON pets BEGIN "
    f"DELETE FROM pet_tag_names WHERE pet_id = OLD.id; {_SQLITE_TAG_NAMES} END",
    "CREATE TRIGGER pets_deleted AFTER DELETE ON pets BEGIN "
    f"{_BUMP} DELETE FROM pet_tag_names WHERE pet_id = OLD.id; END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS pets_inserted", "DROP TRIGGER IF EXISTS pets_updated",
               "DROP TRIGGER IF EXISTS pets_tags_updated", "DROP TRIGGER IF EXISTS pets_deleted"]

POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION timekit_bump_catalog_version() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN {_BUMP} RETURN NULL; END $$""",
    f"""CREATE TRIGGER pets_catalog_version
        AFTER INSERT OR DELETE OR UPDATE OF {WIRE_COLUMNS} ON pets
        FOR EACH STATEMENT EXECUTE FUNCTION timekit_bump_catalog_version()""",
    """CREATE OR REPLACE FUNCTION timekit_pet_tag_names() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            DELETE FROM pet_tag_names WHERE pet_id = OLD.id;
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') AND json_typeof(NEW.tags) = 'array' THEN
            INSERT INTO pet_tag_names (pet_id, name)
            SELECT DISTINCT NEW.id, tag ->> 'name' FROM json_array_elements(NEW.tags) AS tag
            WHERE json_typeof(tag -> 'name') = 'string'
            ON CONFLICT DO NOTHING;
          END IF;
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER pets_tag_names AFTER INSERT OR DELETE OR UPDATE OF id, tags ON pets
        FOR EACH ROW EXECUTE FUNCTION timekit_pet_tag_names()""",
]
POSTGRESQL_DROP = ["DROP TRIGGER IF EXISTS pets_catalog_version ON pets",
                   "DROP TRIGGER IF EXISTS pets_tag_names ON pets",
                   "DROP FUNCTION IF EXISTS timekit_bump_catalog_version()",
                   "DROP FUNCTION IF EXISTS timekit_pet_tag_names()"]


@dataclass(frozen=True)
class TriggerSet:
    """Triggers created and dropped together, per dialect: ``{dialect: (create, drop)}``."""

    what: str
    statements: dict[str, tuple[list[str], list[str]]]

    def _run(self, connection, which: int) -> None:
        dialect = connection.dialect.name
        if dialect not in self.statements:
            raise RuntimeError(f"no {self.what} triggers for the {dialect} dialect")
        for statement in self.statements[dialect][which]:
            connection.exec_driver_sql(statement)

    def create(self, connection) -> None:
        self._run(connection, 0)

    def drop(self, connection) -> None:
        self._run(connection, 1)

    def install(self, table: sa.Table | sa.MetaData) -> None:
        """Create the triggers whenever ``create_all`` creates ``table`` (or, given the
        metadata, once it has created every table)."""
        sa.event.listen(table, "after_create",
                        lambda target, connection, **kw: self.create(connection))


PET_TRIGGERS = TriggerSet("pet", {"sqlite": (SQLITE, SQLITE_DROP),
                                  "postgresql": (POSTGRESQL, POSTGRESQL_DROP)})
# The names migration 0004 calls.
create, drop = PET_TRIGGERS.create, PET_TRIGGERS.drop


# --- bookings.owner_id: the booked pet's owner, copied by the database -----------------------
#
# A booking is visible to its booker and to its pet's owner. Lists read the second rule
# through an index on ``bookings (owner_id, starts_at, id)``, in start order, instead of
# visiting every pet of the owner and sorting all their bookings (an owner of 100,000 pets
# made that the slowest read). The copy is the database's: set when a booking is inserted
# or moved to another pet, and rewritten when a pet changes owner (also by the foreign key's
# SET NULL when the owner's account is deleted). Migration 0011 creates these triggers on
# existing databases; ``models.py`` installs them for ``create_all``.

_SQLITE_SET_OWNER = ("UPDATE bookings SET owner_id = (SELECT owner_id FROM pets "
                     "WHERE pets.id = NEW.resource_id) WHERE id = NEW.id;")
SQLITE_BOOKING_OWNER = [
    f"CREATE TRIGGER bookings_owner_inserted AFTER INSERT ON bookings BEGIN "
    f"{_SQLITE_SET_OWNER} END",
    f"CREATE TRIGGER bookings_owner_moved AFTER UPDATE OF resource_id ON bookings BEGIN "
    f"{_SQLITE_SET_OWNER} END",
    "CREATE TRIGGER pets_owner_changed AFTER UPDATE OF owner_id ON pets BEGIN "
    "UPDATE bookings SET owner_id = NEW.owner_id WHERE resource_id = NEW.id; END",
]
SQLITE_BOOKING_OWNER_DROP = ["DROP TRIGGER IF EXISTS bookings_owner_inserted",
                             "DROP TRIGGER IF EXISTS bookings_owner_moved",
                             "DROP TRIGGER IF EXISTS pets_owner_changed"]

POSTGRESQL_BOOKING_OWNER = [
    """CREATE OR REPLACE FUNCTION timekit_booking_owner() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          NEW.owner_id := (SELECT owner_id FROM pets WHERE pets.id = NEW.resource_id);
          RETURN NEW;
        END $$""",
    """CREATE TRIGGER bookings_owner BEFORE INSERT OR UPDATE OF resource_id ON bookings
        FOR EACH ROW EXECUTE FUNCTION timekit_booking_owner()""",
    """CREATE OR REPLACE FUNCTION timekit_pet_owner_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE bookings SET owner_id = NEW.owner_id WHERE resource_id = NEW.id;
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER pets_owner_changed AFTER UPDATE OF owner_id ON pets
        FOR EACH ROW WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id)
        EXECUTE FUNCTION timekit_pet_owner_changed()""",
]
POSTGRESQL_BOOKING_OWNER_DROP = ["DROP TRIGGER IF EXISTS bookings_owner ON bookings",
                                 "DROP TRIGGER IF EXISTS pets_owner_changed ON pets",
                                 "DROP FUNCTION IF EXISTS timekit_booking_owner()",
                                 "DROP FUNCTION IF EXISTS timekit_pet_owner_changed()"]


BOOKING_OWNER_TRIGGERS = TriggerSet(
    "booking owner", {"sqlite": (SQLITE_BOOKING_OWNER, SQLITE_BOOKING_OWNER_DROP),
                      "postgresql": (POSTGRESQL_BOOKING_OWNER, POSTGRESQL_BOOKING_OWNER_DROP)})
# The names migration 0011 calls.
create_booking_owner = BOOKING_OWNER_TRIGGERS.create
drop_booking_owner = BOOKING_OWNER_TRIGGERS.drop


# --- booking_list_version: "has any booking changed?" -----------------------------------------
#
# One number grows with every insert, update and delete of a booking or of a transition in a
# booking's history, whatever path writes it (the engine, the worker, a cascade from a deleted
# pet or user, the owner copy above), and with every change of a username (a history shows
# who applied each action): ``domain/booking/list_pages.py`` reuses a rendered page of
# ``GET /bookings`` while it has not moved. On PostgreSQL the bump is a deferred constraint
# trigger: it runs at commit, so the row's lock is held for the commit alone and booking
# writers on different pets do not queue behind each other for a whole transaction (and,
# taken last, it can close no deadlock cycle). Migration 0012 creates these triggers.

_BUMP_BOOKINGS = "UPDATE booking_list_version SET version = version + 1 WHERE id = 1;"
_LISTED = ("bookings", "booking_transitions")

SQLITE_BOOKING_LIST = [
    *(f"CREATE TRIGGER {table}_list_{event.lower()} AFTER {event} ON {table} BEGIN "
      f"{_BUMP_BOOKINGS} END"
      for table in _LISTED for event in ("INSERT", "UPDATE", "DELETE")),
    "CREATE TRIGGER users_renamed_list AFTER UPDATE OF username ON users "
    f"WHEN OLD.username IS NOT NEW.username BEGIN {_BUMP_BOOKINGS} END",
]
SQLITE_BOOKING_LIST_DROP = [
    *(f"DROP TRIGGER IF EXISTS {table}_list_{event.lower()}"
      for table in _LISTED for event in ("INSERT", "UPDATE", "DELETE")),
    "DROP TRIGGER IF EXISTS users_renamed_list"]

POSTGRESQL_BOOKING_LIST = [
    f"""CREATE OR REPLACE FUNCTION timekit_bump_booking_list_version() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN {_BUMP_BOOKINGS} RETURN NULL; END $$""",
    *(f"""CREATE CONSTRAINT TRIGGER {table}_list_version
          AFTER INSERT OR UPDATE OR DELETE ON {table} DEFERRABLE INITIALLY DEFERRED
          FOR EACH ROW EXECUTE FUNCTION timekit_bump_booking_list_version()"""
      for table in _LISTED),
    # TRUNCATE fires no row trigger
    *(f"""CREATE TRIGGER {table}_list_truncated AFTER TRUNCATE ON {table}
          FOR EACH STATEMENT EXECUTE FUNCTION timekit_bump_booking_list_version()"""
      for table in _LISTED),
    """CREATE CONSTRAINT TRIGGER users_renamed_list AFTER UPDATE OF username ON users
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
       WHEN (OLD.username IS DISTINCT FROM NEW.username)
       EXECUTE FUNCTION timekit_bump_booking_list_version()""",
]
POSTGRESQL_BOOKING_LIST_DROP = [
    *(f"DROP TRIGGER IF EXISTS {table}_list_{kind} ON {table}"
      for table in _LISTED for kind in ("version", "truncated")),
    "DROP TRIGGER IF EXISTS users_renamed_list ON users",
    "DROP FUNCTION IF EXISTS timekit_bump_booking_list_version()"]

BOOKING_LIST_TRIGGERS = TriggerSet(
    "booking list", {"sqlite": (SQLITE_BOOKING_LIST, SQLITE_BOOKING_LIST_DROP),
                     "postgresql": (POSTGRESQL_BOOKING_LIST, POSTGRESQL_BOOKING_LIST_DROP)})
# The names migration 0012 calls.
create_booking_list = BOOKING_LIST_TRIGGERS.create
drop_booking_list = BOOKING_LIST_TRIGGERS.drop
