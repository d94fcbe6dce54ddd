"""Booking tag, part 1: the Petstore pet operations. Pets are the bookable resources."""

from __future__ import annotations

import threading

import orjson
import sqlalchemy as sa
from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import abort

from .. import catalog, schemas
from ..extensions import Blueprint, db
from ..ids import free_id
from ..images import sniff_image_type
from ..models import Category, Pet, PetImage, PetTag, Tag
from ..security import current_user_id, require_owner

blp = Blueprint("pet", __name__, url_prefix="/pet", tag="Booking")

pet_schema = schemas.PetSchema()


def api_response(message: str, code: int = 200) -> dict:
    """The reference server's ApiResponse for operations that return no object."""
    return {"code": code, "type": "unknown", "message": message}


def json_response(text: str):
    return current_app.response_class(text, mimetype="application/json")


def pet_documents(where) -> bytes:
    """A JSON array of the cached documents of the pets matching ``where``: one query,
    whose one value the database builds itself (no Python object per pet). Aggregating an
    ordered subquery keeps its order in SQLite (an aggregate outer query is never
    flattened) and, as PostgreSQL's docs put it, "usually" there too. SQLite hands it
    over as bytes, so a 100,000-pet list is not also held as ``str`` (memory)."""
    ordered = sa.select(Pet.document).where(where).order_by(Pet.id).subquery()
    joined = sa.func.coalesce(sa.func.aggregate_strings(ordered.c.document, ","), "")
    array = sa.literal("[") + joined + sa.literal("]")
    # One list at a time per process: each holds its whole array in SQLite and in Python,
    # so 4 threads building 100,000-pet lists at once peaked at 180 MiB. The work is
    # CPU-bound, so on one core this costs no throughput.
    with _one_list_at_a_time:
        if db.session.get_bind().dialect.name == "sqlite":
            return db.session.scalar(sa.select(sa.cast(array, sa.LargeBinary)))
        return db.session.scalar(sa.select(array)).encode()


_one_list_at_a_time = threading.Lock()


# Built once, on the table rather than the entity: building the statement and compiling it
# for the ORM cost more than running the query (benchmarks/PROFILE.md).
PET_DOCUMENT = sa.select(Pet.__table__.c.document).where(Pet.__table__.c.id == sa.bindparam("id"))


def get_pet_or_404(pet_id: int) -> Pet:
    pet = db.session.get(Pet, pet_id)
    if pet is None:
        abort(404, message="Pet not found")
    return pet


def resolve_named(model, data: dict | None, *, empty_is_none: bool = False):
    """A Category or Tag from ``{id?, name?}``: found by id, else by name, else created.

    An id that exists under another name is a conflict rather than a silent rename, since
    other pets share the row. ``{}`` means "none" where ``empty_is_none`` (a pet's
    category); a tag must name something.
    """
    if data is None or (empty_is_none and not data):
        return None
    ident, name = data.get("id"), data.get("name")
    if ident is not None and ident >= 1:
        row = db.session.get(model, ident)
        if row is None:
            insert_if_absent(model, id=ident, name=name)
            row = db.session.get(model, ident)
            if row is None:
                abort(409, message=f"{model.__name__} {name!r} exists with another id")
        if name is not None and name != row.name:
            abort(409, message=f"{model.__name__} {ident} is named {row.name!r}, not {name!r}")
        return row
    if name is None:
        abort(405, message=f"A {model.__name__.lower()} needs an id or a name",
              errors={model.__name__.lower(): ["id or name is required"]})
    by_name = sa.select(model).where(model.name == name)
    row = db.session.scalars(by_name).first()
    if row is None:
        insert_if_absent(model, name=name)
        row = db.session.scalars(by_name).first()
        if row is None:  # lost a race for the id itself
            abort(409, message=f"{model.__name__} {name!r} was being created; try again")
    return row


def insert_if_absent(model, **values) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: when concurrent requests create the same category
    or tag, one inserts it and the others use it (instead of failing on the unique name)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        if "id" not in values:  # the ORM's before_flush hook does not see Core inserts
            values["id"] = free_id(db.session.connection(), model.__table__)
    else:
        db.session.add(model(**values))
        db.session.flush()
        return
    db.session.execute(insert(model).values(**values).on_conflict_do_nothing())


def apply_pet(pet: Pet, data: dict) -> Pet:
    """Copy a loaded Pet body onto ``pet`` and refresh its cached document."""
    pet.name = data["name"]
    pet.photo_urls = list(data["photo_urls"])
    pet.status = data.get("status")
    pet.category = resolve_named(Category, data.get("category"), empty_is_none=True)
    tags, seen = [], set()
    for tag_data in data.get("tags") or []:
        tag = resolve_named(Tag, tag_data)
        db.session.flush()
        if tag.id not in seen:
            seen.add(tag.id)
            tags.append(tag)
    pet.pet_tags = [PetTag(tag=tag, position=i) for i, tag in enumerate(tags)]
    return pet


def render_document(pet) -> str:
    """The wire JSON of ``pet`` (a Pet, or anything with the same attributes or keys)."""
    return orjson.dumps(pet_schema.dump(pet)).decode()


def refresh_document(pet: Pet) -> None:
    db.session.flush()  # assigns ids
    pet.document = render_document(pet)


@blp.route("")
class Pets(MethodView):
    @blp.login_required("write:pets")
    @blp.arguments(schemas.PetSchema, error_status_code=405,
                   description="Pet object that needs to be added to the store")
    @blp.response(200, schemas.PetSchema, description="successful operation")
    @blp.fails_with(_405="Invalid input", _409="A pet with this id already exists",
                    _415="Body is not JSON")
    def post(self, data):
        """Add a new pet to the store"""
        pet = Pet(owner_id=current_user_id())
        if data.get("id", 0) >= 1:
            if db.session.get(Pet, data["id"]) is not None:
                abort(409, message=f"Pet {data['id']} already exists")
            pet.id = data["id"]
        db.session.add(apply_pet(pet, data))
        refresh_document(pet)
        db.session.commit()
        return json_response(pet.document)

    @blp.login_required("write:pets")
    @blp.arguments(schemas.PetSchema, error_status_code=405,
                   description="Pet object that needs to be added to the store")
    @blp.response(200, schemas.PetSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found",
                    _405="Validation exception", _415="Body is not JSON")
    def put(self, data):
        """Update an existing pet"""
        pet_id = data.get("id")
        if pet_id is None or pet_id < 1:
            abort(400, message="Invalid ID supplied")
        pet = get_pet_or_404(pet_id)
        require_owner("Pet", pet.owner_id)
        apply_pet(pet, data)
        refresh_document(pet)
        db.session.commit()
        return json_response(pet.document)


@blp.route("/findByStatus")
class PetsByStatus(MethodView):
    @blp.arguments(schemas.StatusQuerySchema, location="query")
    @blp.response(200, schemas.PetSchema(many=True), description="successful operation")
    @blp.fails_with(_400="Invalid status value")
    def get(self, args):
        """Finds Pets by status

        Multiple status values can be provided with comma separated strings
        """
        statuses = tuple(sorted(set(args["status"])))
        return json_response(catalog.answers.get(
            ("status", statuses), lambda: pet_documents(Pet.status.in_(statuses))))


@blp.route("/findByTags")
class PetsByTags(MethodView):
    @blp.arguments(schemas.TagsQuerySchema, location="query")
    @blp.response(200, schemas.PetSchema(many=True), description="successful operation")
    @blp.fails_with(_400="Invalid tag value")
    def get(self, args):
        """Finds Pets by tags

        Muliple tags can be provided with comma separated strings. Use tag1, tag2, tag3 for
        testing. Each matching pet appears once.
        """
        tags = tuple(sorted(set(args["tags"])))
        tagged = sa.select(PetTag.pet_id).join(Tag).where(Tag.name.in_(tags))
        return json_response(catalog.answers.get(
            ("tags", tags), lambda: pet_documents(Pet.id.in_(tagged))))


@blp.route("/<id:petId>")
class PetById(MethodView):
    @blp.response(200, schemas.PetSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found")
    def get(self, petId):
        """Find pet by ID

        Returns a single pet
        """
        document = db.session.scalar(PET_DOCUMENT, {"id": petId})
        if document is None:
            abort(404, message="Pet not found")
        return json_response(document)

    @blp.login_required("write:pets")
    @blp.arguments(schemas.PetFormSchema, location="form", error_status_code=405)
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found", _405="Invalid input",
                    _415="Body is not form data")
    def post(self, form, petId):
        """Updates a pet in the store with form data"""
        pet = get_pet_or_404(petId)
        require_owner("Pet", pet.owner_id)
        if "name" in form:
            pet.name = form["name"]
        if "status" in form:
            pet.status = form["status"]
        refresh_document(pet)
        db.session.commit()
        return api_response(str(petId))

    @blp.login_required("write:pets")
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found")
    def delete(self, petId):
        """Deletes a pet

        The seed's optional `api_key` header is one of the accepted credentials.
        """
        pet = get_pet_or_404(petId)
        require_owner("Pet", pet.owner_id)
        db.session.delete(pet)
        db.session.commit()
        return api_response(str(petId))


@blp.route("/<id:petId>/uploadImage")
class PetImageUpload(MethodView):
    @blp.login_required("write:pets")
    @blp.arguments(schemas.PetUploadSchema, location="multipart")
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="No image, or not an image", _404="Pet not found",
                    _413="Image too large", _415="Body is not multipart/form-data")
    def post(self, form, petId):
        """uploads an image"""
        pet = get_pet_or_404(petId)
        require_owner("Pet", pet.owner_id)
        upload = form["file"]
        if not hasattr(upload, "read"):
            abort(400, message="`file` must be a file part", errors={"file": ["Not a file."]})
        limit = current_app.config["MAX_IMAGE_BYTES"]
        data = upload.read(limit + 1)
        if len(data) > limit:
            abort(413, message=f"Image larger than {limit} bytes")
        content_type = sniff_image_type(data[:16])
        if content_type is None:
            abort(400, message="Only PNG, JPEG, GIF and WebP images are accepted",
                  errors={"file": ["Not a recognised image."]})
        image = PetImage(pet_id=pet.id, content_type=content_type, size=len(data), data=data,
                         additional_metadata=form.get("additionalMetadata"))
        db.session.add(image)
        db.session.flush()
        url = url_for("pet.image", petId=pet.id, imageId=image.id)
        pet.photo_urls = [*pet.photo_urls, url]
        refresh_document(pet)
        db.session.commit()
        metadata = form.get("additionalMetadata")
        prefix = f"additionalMetadata: {metadata}\n" if metadata else ""
        return api_response(f"{prefix}File uploaded to {url}, {len(data)} bytes")


@blp.route("/<id:petId>/images/<id:imageId>", endpoint="image")
@blp.fails_with(_400="Invalid ID supplied", _404="Image not found")
@blp.doc(responses={"200": {"description": "the image bytes", "content": {
    ct: {"schema": {"type": "string", "format": "binary"}}
    for ct in ("image/png", "image/jpeg", "image/gif", "image/webp")}}})
def pet_image(petId, imageId):
    """Serves an uploaded image with its content type"""
    image = db.session.scalars(sa.select(PetImage).where(
        PetImage.id == imageId, PetImage.pet_id == petId)).first()
    if image is None:
        abort(404, message="Image not found")
    response = current_app.response_class(image.data, mimetype=image.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    return response
