"""Pets: the one write path, and the read paths that serve stored documents.

Every write goes through :func:`_save`, which copies the body onto the row, resolves its
category and tags, and refreshes ``Pet.document`` (the pet's wire JSON) in the same
transaction. Reads never serialise: one pet is one prebuilt query for its document
(:func:`pet_document`), a list is one query whose single value the database builds
(:func:`documents_where`), reused per process until a pet changes (``catalog.py``).
Measurements behind each read path: benchmarks/PROFILE.md.
"""

from __future__ import annotations

import threading

import orjson
import sqlalchemy as sa

from ..database import db, lock_row
from ..database.ids import free_id
from ..database.models import Category, Pet, PetImage, PetTag, Tag
from . import access, catalog
from .errors import (
    Conflict,
    ImageNotFound,
    ImageTooLarge,
    Invalid,
    InvalidPet,
    PetExists,
    PetNotFound,
)
from .images import sniff_image_type
from .schemas import PET_STATUSES, PetSchema

_pet_schema = PetSchema()


# --- reading ----------------------------------------------------------------------------------

PET_DOCUMENT = sa.select(Pet.__table__.c.document).where(Pet.__table__.c.id == sa.bindparam("id"))


def pet_document(pet_id: int) -> str:
    """The stored wire JSON of one pet (the GET pet read path)."""
    document = db.session.scalar(PET_DOCUMENT, {"id": pet_id})
    if document is None:
        raise PetNotFound("Pet not found")
    return document


_one_list_at_a_time = threading.Lock()


def documents_where(where) -> bytes:
    """A JSON array of the stored documents of the pets matching ``where``: one query whose
    one value the database builds (no Python object per pet), one list at a time per
    process (memory; benchmarks/PROFILE.md, "pet lists")."""
    ordered = sa.select(Pet.document).where(where).order_by(Pet.id).subquery()
    joined = sa.func.coalesce(sa.func.aggregate_strings(ordered.c.document, ","), "")
    array = sa.literal("[") + joined + sa.literal("]")
    with _one_list_at_a_time:
        if db.session.get_bind().dialect.name == "sqlite":
            # SQLite hands the array over as bytes: not also held as ``str``.
            return db.session.scalar(sa.select(sa.cast(array, sa.LargeBinary)))
        return db.session.scalar(sa.select(array)).encode()


def documents_by_status(statuses) -> bytes:
    statuses = tuple(sorted(set(statuses)))
    return catalog.answers.get(("status", statuses),
                               lambda: documents_where(Pet.status.in_(statuses)))


def documents_by_tags(tags) -> bytes:
    tags = tuple(sorted(set(tags)))
    tagged = sa.select(PetTag.pet_id).join(Tag).where(Tag.name.in_(tags))
    return catalog.answers.get(("tags", tags), lambda: documents_where(Pet.id.in_(tagged)))


def inventory() -> bytes:
    """``{status: count}`` over all pets, as JSON."""

    def count_by_status() -> bytes:
        counts = dict.fromkeys(PET_STATUSES, 0)
        rows = db.session.execute(
            sa.select(Pet.status, sa.func.count()).where(Pet.status.is_not(None))
            .group_by(Pet.status))
        counts.update(dict(rows.all()))
        return orjson.dumps(counts)

    return catalog.answers.get(("inventory",), count_by_status)


def get_pet(pet_id: int) -> Pet:
    pet = db.session.get(Pet, pet_id)
    if pet is None:
        raise PetNotFound("Pet not found")
    return pet


def get_own_pet(pet_id: int, user_id: int) -> Pet:
    pet = get_pet(pet_id)
    access.require_owner("Pet", user_id, pet.owner_id)
    return pet


def _lock_own_pet(pet_id: int, user_id: int) -> Pet:
    """The caller's pet, locked for this transaction (``lock_row``): a write racing a
    delete answers 404, never 500, and of two deletes only one succeeds."""
    if not lock_row(Pet, pet_id):
        raise PetNotFound("Pet not found")
    return get_own_pet(pet_id, user_id)


def exists(pet_id: int) -> bool:
    return db.session.get(Pet, pet_id) is not None


# --- writing ----------------------------------------------------------------------------------

def _resolve_named(model, data: dict | None, *, empty_is_none: bool = False):
    """A Category or Tag from ``{id?, name?}``: found by id, else by name, else created.

    An id that exists under another name is a conflict rather than a silent rename, since
    other pets share the row. ``{}`` means "none" where ``empty_is_none`` (a pet's
    category); a tag must name something.
    """
    if data is None or (empty_is_none and not data):
        return None
    kind = model.__name__
    ident, name = data.get("id"), data.get("name")
    if ident is not None and ident >= 1:
        row = db.session.get(model, ident)
        if row is None:
            _insert_if_absent(model, id=ident, name=name)
            row = db.session.get(model, ident)
            if row is None:
                raise Conflict(f"{kind} {name!r} exists with another id")
        if name is not None and name != row.name:
            raise Conflict(f"{kind} {ident} is named {row.name!r}, not {name!r}")
        return row
    if name is None:
        raise InvalidPet(f"A {kind.lower()} needs an id or a name",
                         errors={kind.lower(): ["id or name is required"]})
    by_name = sa.select(model).where(model.name == name)
    row = db.session.scalars(by_name).first()
    if row is None:
        _insert_if_absent(model, name=name)
        row = db.session.scalars(by_name).first()
        if row is None:  # lost a race for the id itself
            raise Conflict(f"{kind} {name!r} was being created; try again")
    return row


def _insert_if_absent(model, **values) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: when concurrent requests create the same category
    or tag, one inserts it and the others use it (instead of failing on the unique name)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        insert = sa.dialects.sqlite.insert
    elif dialect == "postgresql":
        insert = sa.dialects.postgresql.insert
        if "id" not in values:  # the ORM's before_flush hook does not see Core inserts
            values["id"] = free_id(db.session.connection(), model.__table__)
    else:
        db.session.add(model(**values))
        db.session.flush()
        return
    db.session.execute(insert(model).values(**values).on_conflict_do_nothing())


def render_document(pet) -> str:
    """The wire JSON of ``pet`` (a Pet, or anything with the same attributes or keys)."""
    return orjson.dumps(_pet_schema.dump(pet)).decode()


def _refresh_document(pet: Pet) -> None:
    db.session.flush()  # assigns ids
    pet.document = render_document(pet)


def _save(pet: Pet, data: dict) -> Pet:
    """The one write path of a pet's body: copy ``data`` (a loaded Pet) onto ``pet``,
    resolve its category and tags, refresh its document."""
    pet.name = data["name"]
    pet.photo_urls = list(data["photo_urls"])
    pet.status = data.get("status")
    pet.category = _resolve_named(Category, data.get("category"), empty_is_none=True)
    tags, seen = [], set()
    for tag_data in data.get("tags") or []:
        tag = _resolve_named(Tag, tag_data)
        db.session.flush()
        if tag.id not in seen:
            seen.add(tag.id)
            tags.append(tag)
    pet.pet_tags = [PetTag(tag=tag, position=i) for i, tag in enumerate(tags)]
    if pet not in db.session:
        db.session.add(pet)
    _refresh_document(pet)
    return pet


def _commit_or_rollback(work):
    try:
        result = work()
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def add_pet(data: dict, owner_id: int | None) -> Pet:
    """A new pet owned by ``owner_id``; PetExists when the body's id is taken."""

    def work():
        pet = Pet(owner_id=owner_id)
        if data.get("id", 0) >= 1:
            if exists(data["id"]):
                raise PetExists(f"Pet {data['id']} already exists")
            pet.id = data["id"]
        return _save(pet, data)

    return _commit_or_rollback(work)


def replace_pet(data: dict, user_id: int) -> Pet:
    """``PUT /pet``: the whole body replaces the stored pet (never creates one)."""
    pet_id = data.get("id")
    if pet_id is None or pet_id < 1:
        raise Invalid("Invalid ID supplied")
    return _commit_or_rollback(lambda: _save(_lock_own_pet(pet_id, user_id), data))


def update_fields(pet_id: int, user_id: int, changes: dict) -> Pet:
    """``name`` and/or ``status`` from the form update."""

    def work():
        pet = _lock_own_pet(pet_id, user_id)
        if "name" in changes:
            pet.name = changes["name"]
        if "status" in changes:
            pet.status = changes["status"]
        _refresh_document(pet)
        return pet

    return _commit_or_rollback(work)


def delete_pet(pet_id: int, user_id: int) -> None:
    def work():
        db.session.delete(_lock_own_pet(pet_id, user_id))

    _commit_or_rollback(work)


def add_image(pet_id: int, user_id: int, data: bytes, metadata: str | None, max_bytes: int,
              image_url) -> str:
    """Store an uploaded image and append its URL (``image_url(pet_id, image_id)``) to the
    pet's ``photoUrls``; returns the URL."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"Image larger than {max_bytes} bytes")
    content_type = sniff_image_type(data[:16])
    if content_type is None:
        raise Invalid("Only PNG, JPEG, GIF and WebP images are accepted",
                      errors={"file": ["Not a recognised image."]})

    def work():
        pet = _lock_own_pet(pet_id, user_id)
        image = PetImage(pet_id=pet.id, content_type=content_type, size=len(data), data=data,
                         additional_metadata=metadata)
        db.session.add(image)
        db.session.flush()
        url = image_url(pet.id, image.id)
        pet.photo_urls = [*pet.photo_urls, url]
        _refresh_document(pet)
        return url

    return _commit_or_rollback(work)


def get_image(pet_id: int, image_id: int) -> PetImage:
    image = db.session.scalars(sa.select(PetImage).where(
        PetImage.id == image_id, PetImage.pet_id == pet_id)).first()
    if image is None:
        raise ImageNotFound("Image not found")
    return image


def load_pet(data: dict, owner_id: int | None) -> Pet:
    """Add a pet inside the caller's transaction (the demo loader's path): ``_save``."""
    pet = Pet(owner_id=owner_id)
    if data.get("id", 0) >= 1:
        pet.id = data["id"]
    return _save(pet, data)
