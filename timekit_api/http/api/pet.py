"""Booking tag, part 1: the Petstore pet operations. Pets are the bookable resources.

The rules (one write path, the stored documents, ownership) are ``domain/pets.py``'s.
"""

from __future__ import annotations

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import abort

from ...domain import pets, schemas
from ..auth import current_user_id
from ..blueprint import Blueprint
from ..parser import naming_invalid_ids
from ..responses import answer_response, api_response, json_response

blp = Blueprint("pet", __name__, url_prefix="/pet", tag="Booking")


@blp.route("")
class Pets(MethodView):
    @blp.operation("addPet")
    @blp.login_required("write:pets")
    @blp.idempotent()
    @blp.arguments(schemas.PetSchema, error_status_code=405,
                   description="Pet object that needs to be added to the store")
    @blp.response(200, schemas.PetSchema, description="successful operation")
    @blp.fails_with(_405="Invalid input", _409="A pet with this id already exists",
                    _415="Body is not JSON")
    def post(self, data):
        """Add a new pet to the store"""
        return json_response(pets.add_pet(data, current_user_id()))

    @blp.operation("updatePet")
    @blp.login_required("write:pets")
    @blp.arguments(naming_invalid_ids(schemas.PetSchema()), error_status_code=405,
                   description="Pet object that needs to be added to the store")
    @blp.response(200, schemas.PetSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found",
                    _405="Validation exception", _415="Body is not JSON")
    def put(self, data):
        """Update an existing pet"""
        return json_response(pets.replace_pet(data, current_user_id()))


@blp.route("/findByStatus")
class PetsByStatus(MethodView):
    @blp.operation("findPetsByStatus")
    @blp.arguments(schemas.StatusQuerySchema, location="query")
    @blp.response(200, schemas.PetSchema(many=True), description="successful operation")
    @blp.fails_with(_400="Invalid status value")
    def get(self, args):
        """Finds Pets by status

        Multiple status values can be provided with comma separated strings
        """
        return answer_response(pets.documents_by_status(args["status"]))


@blp.route("/findByTags")
class PetsByTags(MethodView):
    @blp.operation("findPetsByTags")
    @blp.arguments(schemas.TagsQuerySchema, location="query")
    @blp.response(200, schemas.PetSchema(many=True), description="successful operation")
    @blp.fails_with(_400="Invalid tag value")
    def get(self, args):
        """Finds Pets by tags

        Muliple tags can be provided with comma separated strings. Use tag1, tag2, tag3 for
        testing. Each matching pet appears once.
        """
        return answer_response(pets.documents_by_tags(args["tags"]))


@blp.route("/<id:petId>")
class PetById(MethodView):
    @blp.operation("getPetById")
    @blp.response(200, schemas.PetSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found")
    def get(self, petId):
        """Find pet by ID

        Returns a single pet
        """
        return json_response(pets.pet_document(petId))

    @blp.operation("updatePetWithForm")
    @blp.login_required("write:pets")
    @blp.arguments(schemas.PetFormSchema, location="form", error_status_code=405)
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found", _405="Invalid input",
                    _415="Body is not form data")
    def post(self, form, petId):
        """Updates a pet in the store with form data"""
        pets.update_fields(petId, current_user_id(), form)
        return api_response(str(petId))

    @blp.operation("deletePet")
    @blp.login_required("write:pets")
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found")
    def delete(self, petId):
        """Deletes a pet

        The seed's optional `api_key` header is one of the accepted credentials.
        """
        pets.delete_pet(petId, current_user_id())
        return api_response(str(petId))


@blp.route("/<id:petId>/uploadImage")
class PetImageUpload(MethodView):
    @blp.operation("uploadFile")
    @blp.login_required("write:pets")
    @blp.arguments(schemas.PetUploadSchema, location="multipart")
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="No image, or not an image", _404="Pet not found",
                    _413="Image too large", _415="Body is not multipart/form-data")
    def post(self, form, petId):
        """uploads an image"""
        upload = form["file"]
        if not hasattr(upload, "read"):
            abort(400, message="`file` must be a file part", errors={"file": ["Not a file."]})
        limit = current_app.config["MAX_IMAGE_BYTES"]
        data = upload.read(limit + 1)
        metadata = form.get("additionalMetadata")
        url = pets.add_image(petId, current_user_id(), data, metadata, limit,
                             lambda pet_id, image_id: url_for("pet.image", petId=pet_id,
                                                              imageId=image_id))
        prefix = f"additionalMetadata: {metadata}\n" if metadata else ""
        return api_response(f"{prefix}File uploaded to {url}, {len(data)} bytes")


@blp.route("/<id:petId>/images/<id:imageId>", endpoint="image")
@blp.operation("getPetImage")
@blp.fails_with(_400="Invalid ID supplied", _404="Image not found")
@blp.doc(responses={"200": {"description": "the image bytes", "content": {
    ct: {"schema": {"type": "string", "format": "binary"}}
    for ct in ("image/png", "image/jpeg", "image/gif", "image/webp")}}})
def pet_image(petId, imageId):
    """Serves an uploaded image with its content type"""
    image = pets.get_image(petId, imageId)
    response = current_app.response_class(image.data, mimetype=image.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    return response
