"""Pets: the one write path, and the read paths that let the database render the wire JSON.

A pet is one row: its columns, with ``category`` and ``tags`` stored as the JSON values the
client sent (no shared rows: two pets may call category 7 "dog" and "cat"). Every write of a
body goes through :func:`_save`. There is no stored copy of the wire JSON to keep in step:
each read asks the database to render it from the columns (:class:`PetJson`), one prebuilt
query for one pet (:func:`pet_document`), one query whose single value the database builds
for a list (:func:`write_documents_where`), reused per process until a pet changes (``catalog.py``,
whose version and the ``findByTags`` index are kept by database triggers). Measurements behind
each read path: benchmarks/PROFILE.md.
"""

from __future__ import annotations

import threading
from typing import BinaryIO

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from ..database import db, lock_row
from ..database import run_in_transaction as _commit_or_rollback
from ..database.models import Pet, PetImage, PetTagName
from . import access, catalog
from .errors import (
    Conflict,
    ImageNotFound,
    ImageTooLarge,
    Invalid,
    PetExists,
    PetNotFound,
)
from .images import sniff_image_type
from .schemas import MAX_PHOTO_URLS, PET_STATUSES

# --- reading ----------------------------------------------------------------------------------

_pets = Pet.__table__.c


class PetJson(sa.sql.expression.ColumnElement):
    """The SQL expression of a pet's wire JSON, built by the database from its columns: the
    PetSchema's fields in its order, absent (NULL) ones left out, as the reference server
    does. One element compiled per dialect (so statements are prebuilt once): SQLite merges
    the object onto ``{}`` (RFC 7396's merge patch drops null members); PostgreSQL strips
    the nulls with ``json_strip_nulls``."""

    type = sa.Text()
    inherit_cache = True
    _traverse_internals = []  # no state: one cache key, so statements compile once


@compiles(PetJson, "sqlite")
def _pet_json_sqlite(element, compiler, **kw):
    return compiler.process(sa.func.json_patch("{}", sa.func.json_object(
        "id", _pets.id, "category", sa.func.json(_pets.category), "name", _pets.name,
        "photoUrls", sa.func.json(_pets.photo_urls), "tags", sa.func.json(_pets.tags),
        "status", _pets.status)), **kw)


@compiles(PetJson, "postgresql")
def _pet_json_postgresql(element, compiler, **kw):
    return compiler.process(sa.cast(sa.func.json_strip_nulls(sa.func.json_build_object(
        "id", _pets.id, "category", _pets.category, "name", _pets.name,
        "photoUrls", _pets.photo_urls, "tags", _pets.tags, "status", _pets.status)),
        sa.Text), **kw)


PET_JSON = PetJson()
PET_DOCUMENT = (sa.select(PET_JSON).select_from(Pet.__table__)
                .where(_pets.id == sa.bindparam("id")))


def pet_document(pet_id: int) -> str:
    """The wire JSON of one pet (the GET pet read path)."""
    document = db.session.scalar(PET_DOCUMENT, {"id": pet_id})
    if document is None:
        raise PetNotFound("Pet not found")
    return document


_one_list_at_a_time = threading.Lock()
LIST_CHUNK = 2000  # rows per fetch: the most of a list held in memory at once


def write_documents_where(where, out: BinaryIO) -> None:
    """Write the JSON array of the pets matching ``where``, in id order, to ``out``, a chunk
    of rows at a time as the database renders them (never the whole list in memory); one
    list at a time per process (benchmarks/PROFILE.md, "pet lists")."""
    statement = (sa.select(PET_JSON).select_from(Pet.__table__).where(where)
                 .order_by(_pets.id).execution_options(yield_per=LIST_CHUNK))
    with _one_list_at_a_time:
        out.write(b"[")
        separator = b""
        for chunk in db.session.execute(statement).scalars().partitions():
            out.write(separator)
            out.write(",".join(chunk).encode())
            separator = b","
        out.write(b"]")


def documents_by_status(statuses) -> catalog.Answer:
    statuses = tuple(sorted(set(statuses)))
    return catalog.answers.get(
        ("status", statuses),
        lambda out: write_documents_where(Pet.status.in_(statuses), out))


def documents_by_tags(tags) -> catalog.Answer:
    tags = tuple(sorted(set(tags)))
    tagged = sa.select(PetTagName.pet_id).where(PetTagName.name.in_(tags))
    return catalog.answers.get(("tags", tags),
                               lambda out: write_documents_where(Pet.id.in_(tagged), out))


def inventory() -> catalog.Answer:
    """``{status: count}`` over all pets, as JSON."""

    def count_by_status(out: BinaryIO) -> None:
        counts = dict.fromkeys(PET_STATUSES, 0)
        rows = db.session.execute(
            sa.select(Pet.status, sa.func.count()).where(Pet.status.is_not(None))
            .group_by(Pet.status))
        counts.update(dict(rows.all()))
        out.write(orjson.dumps(counts))

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

def _save(pet: Pet, data: dict) -> Pet:
    """The one write path of a pet's body: copy ``data`` (a loaded Pet) onto ``pet``, its
    category and tags as the values they are (absent stays absent)."""
    pet.name = data["name"]
    pet.photo_urls = list(data["photo_urls"])
    pet.status = data.get("status")
    pet.category = data.get("category")
    pet.tags = data.get("tags")
    if pet not in db.session:
        db.session.add(pet)
    db.session.flush()  # assigns the id
    return pet


def add_pet(data: dict, owner_id: int | None) -> str:
    """A new pet owned by ``owner_id``, as its wire JSON; PetExists when the body's id is
    taken."""

    def work():
        pet = Pet(owner_id=owner_id)
        if data.get("id", 0) >= 1:
            if exists(data["id"]):
                raise PetExists(f"Pet {data['id']} already exists")
            pet.id = data["id"]
        return _save(pet, data).id

    return pet_document(_commit_or_rollback(work))


def replace_pet(data: dict, user_id: int) -> str:
    """``PUT /pet``: the whole body replaces the stored pet (never creates one); returns its
    wire JSON."""
    pet_id = data.get("id")
    if pet_id is None or pet_id < 1:
        raise Invalid("Invalid ID supplied")
    _commit_or_rollback(lambda: _save(_lock_own_pet(pet_id, user_id), data))
    return pet_document(pet_id)


def update_fields(pet_id: int, user_id: int, changes: dict) -> Pet:
    """``name`` and/or ``status`` from the form update."""

    def work():
        pet = _lock_own_pet(pet_id, user_id)
        if "name" in changes:
            pet.name = changes["name"]
        if "status" in changes:
            pet.status = changes["status"]
        return pet

    return _commit_or_rollback(work)


def delete_pet(pet_id: int, user_id: int) -> None:
    def work():
        db.session.delete(_lock_own_pet(pet_id, user_id))

    _commit_or_rollback(work)


def add_image(pet_id: int, user_id: int, data: bytes, metadata: str | None, max_bytes: int,
              image_url) -> str:
    """Store an uploaded image and append its URL (``image_url(pet_id, image_id)``) to the
    pet's ``photoUrls``; returns the URL. A pet with ``MAX_PHOTO_URLS`` already is a
    conflict, and nothing is stored."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"Image larger than {max_bytes} bytes")
    content_type = sniff_image_type(data[:16])
    if content_type is None:
        raise Invalid("Only PNG, JPEG, GIF and WebP images are accepted",
                      errors={"file": ["Not a recognised image."]})

    def work():
        pet = _lock_own_pet(pet_id, user_id)
        if len(pet.photo_urls) >= MAX_PHOTO_URLS:
            raise Conflict(f"The pet has {MAX_PHOTO_URLS} photoUrls already, the most it may "
                           "have; remove some with PUT /pet first",
                           errors={"photoUrls": [f"At most {MAX_PHOTO_URLS} items."]})
        image = PetImage(pet_id=pet.id, content_type=content_type, size=len(data), data=data,
                         additional_metadata=metadata)
        db.session.add(image)
        db.session.flush()
        url = image_url(pet.id, image.id)
        pet.photo_urls = [*pet.photo_urls, url]
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
