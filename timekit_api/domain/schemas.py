"""marshmallow schemas: the seed's models with their wire names, types, ranges and enums.

Wire names are camelCase (``photoUrls``, ``petId``...) through ``data_key``; attribute
names are the models' snake_case. Unknown fields are rejected (marshmallow's default).
"""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from marshmallow import fields, validate

from .accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PASSWORD_RULE,
    USERNAME_PATTERN,
    USERNAME_RULE,
    check_batch_size,
)
from .ids import MAX_INT64, MIN_INT64
from .moments import Moment

INT32 = validate.Range(min=-(2**31), max=2**31 - 1)
INT64 = validate.Range(min=MIN_INT64, max=MAX_INT64)
PET_STATUSES = ("available", "pending", "sold")
ORDER_STATUSES = ("placed", "approved", "delivered")
USERNAME = validate.Regexp(USERNAME_PATTERN, error=USERNAME_RULE)
# Pet limits (contract section 1); uploads count against MAX_PHOTO_URLS too.
MAX_PET_NAME = 255
MAX_PHOTO_URLS = 100
MAX_PHOTO_URL_LENGTH = 2048
MAX_TAGS = 100
PASSWORD = validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH, error=PASSWORD_RULE)


class WireSchema(ma.Schema):
    """Leaves out absent values on output, as the reference server does."""

    @ma.post_dump
    def drop_nulls(self, data, **kwargs):
        return {key: value for key, value in data.items() if value is not None}


def Int64(metadata=None, **kwargs):
    return fields.Integer(strict=True, validate=INT64,
                          metadata={"format": "int64", **(metadata or {})}, **kwargs)


def Int32(validator=INT32, metadata=None, **kwargs):
    return fields.Integer(strict=True, validate=validator,
                          metadata={"format": "int32", **(metadata or {})}, **kwargs)


def Text(max_length=255, **kwargs):
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


NAMED_VALUE_MESSAGES = {"type": "Expected an object {id, name}."}


class CategorySchema(WireSchema):
    error_messages = NAMED_VALUE_MESSAGES

    id = Int64()
    name = Text()


class TagSchema(WireSchema):
    error_messages = NAMED_VALUE_MESSAGES

    id = Int64()
    name = Text()


class PetSchema(WireSchema):
    id = Int64()
    category = fields.Nested(CategorySchema)
    name = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PET_NAME),
                         metadata={"example": "doggie"})
    photo_urls = fields.List(Text(MAX_PHOTO_URL_LENGTH), required=True, data_key="photoUrls",
                             validate=validate.Length(max=MAX_PHOTO_URLS))
    tags = fields.List(fields.Nested(TagSchema), validate=validate.Length(max=MAX_TAGS))
    status = fields.String(validate=validate.OneOf(PET_STATUSES),
                           metadata={"description": "pet status in the store"})


class PetFormSchema(ma.Schema):
    """``POST /pet/{petId}``: form fields, each optional."""

    name = Text(metadata={"description": "Updated name of the pet"})
    status = fields.String(validate=validate.OneOf(PET_STATUSES),
                           metadata={"description": "Updated status of the pet"})


class PetUploadSchema(ma.Schema):
    """``POST /pet/{petId}/uploadImage``: one multipart body, metadata and file together."""

    additionalMetadata = Text(1024, metadata={"description": "Additional data to pass to server"})
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "file to upload"})


MAX_QUERY_VALUES = 100


class CommaSeparatedList(fields.List):
    """A repeated query parameter whose values may also be comma-separated: union of both."""

    def _deserialize(self, value, attr, data, **kwargs):
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise ma.ValidationError("Not a valid list of strings.")
        # The document's maxItems counts the parameter's values as sent, empty ones included.
        if len(values) > MAX_QUERY_VALUES:
            raise ma.ValidationError(f"At most {MAX_QUERY_VALUES} values.")
        # The document's maxLength is the item field's, and it counts each value as sent
        # (before splitting and trimming): 300 tabs around a short tag are too long.
        longest = min((v.max for v in self.inner.validators
                       if isinstance(v, validate.Length) and v.max is not None), default=None)
        if longest is not None and any(len(v) > longest for v in values):
            raise ma.ValidationError(f"Each value has at most {longest} characters.")
        items = [part.strip() for v in values for part in v.split(",") if part.strip()]
        if not items:
            raise ma.ValidationError("At least one value is required.")
        return super()._deserialize(items, attr, data, **kwargs)


class StatusQuerySchema(ma.Schema):
    status = CommaSeparatedList(
        fields.String(validate=validate.OneOf(PET_STATUSES)),
        load_default=lambda: ["available"],
        metadata={"description": "Status values that need to be considered for filter "
                  "(repeat the parameter or separate values with commas)"})


class TagsQuerySchema(ma.Schema):
    tags = CommaSeparatedList(
        fields.String(validate=validate.Length(max=255)), required=True,
        validate=validate.Length(max=100),
        metadata={"description": "Tags to filter by (repeat the parameter or separate "
                  "values with commas)"})


class ApiResponseSchema(ma.Schema):
    code = Int32()
    type = fields.String()
    message = fields.String()


class OrderSchema(WireSchema):
    id = Int64()
    pet_id = Int64(required=True, data_key="petId")
    quantity = Int32(validate.Range(min=0, max=2**31 - 1), load_default=1)
    ship_date = Moment(data_key="shipDate", default_timezone=dt.UTC, allow_none=True)
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES), load_default="placed",
                           metadata={"description": "Order Status"})
    complete = fields.Boolean(load_default=False)


class UserSchema(WireSchema):
    id = Int64()
    username = fields.String(required=True, validate=USERNAME)
    first_name = Text(data_key="firstName", allow_none=True)
    last_name = Text(data_key="lastName", allow_none=True)
    email = fields.Email(validate=validate.Length(max=254), allow_none=True)
    password = fields.String(load_only=True, required=True, validate=PASSWORD,
                             metadata={"description": PASSWORD_RULE})
    phone = Text(64, allow_none=True)
    user_status = Int32(data_key="userStatus", allow_none=True,
                        metadata={"description": "User Status"})

    @ma.pre_load(pass_collection=True)
    def bound_batches(self, data, many, **kwargs):
        """A batch past the limit is refused (413) before its users are even validated."""
        if many and isinstance(data, list):
            check_batch_size(len(data))
        return data


class UserResponseSchema(UserSchema):
    """A User as responses show it: without the write-only, request-required ``password``
    (one schema for both directions would tell clients every response carries it)."""

    class Meta:
        exclude = ("password",)


class UserUpdateSchema(UserSchema):
    """``PUT /user/{username}``: the password may be left out to keep the current one."""

    password = fields.String(load_only=True, validate=PASSWORD,
                             metadata={"description": PASSWORD_RULE})


class LogoutQuerySchema(ma.Schema):
    all = fields.Boolean(load_default=False, metadata={
        "description": "`true` revokes every token of the user, not only this one"})


class LoginQuerySchema(ma.Schema):
    username = fields.String(required=True, metadata={"description": "The user name for login"})
    password = fields.String(required=True,
                             metadata={"description": "The password for login in clear text"})


class AuthRequestSchema(ma.Schema):
    email = fields.String(required=True, validate=validate.Length(max=254),
                          metadata={"description": "The email of the user"})
    password = fields.String(required=True, validate=validate.Length(max=1024),
                             metadata={"description": "The password of the user"})


class AuthUserSchema(ma.Schema):
    """Timekit's signed-in user; dumps a :class:`~timekit_api.domain.accounts.SignIn`."""

    activated = fields.Constant(True, metadata={"type": "boolean"})
    email = fields.String(attribute="user.email")
    first_name = fields.String(attribute="user.first_name", allow_none=True)
    last_name = fields.String(attribute="user.last_name", allow_none=True)
    name = fields.String(attribute="display_name")
    img = fields.String(attribute="avatar_url")
    timezone = fields.String(attribute="user.timezone")
    last_sync = fields.Constant(None, metadata={"type": "string", "format": "date-time",
                                                "nullable": True})
    token = fields.String()
    token_generated_at = fields.DateTime(attribute="issued_at", allow_none=True)
    api_token = fields.String()


class AuthResponseSchema(ma.Schema):
    data = fields.Nested(AuthUserSchema)


class OAuthTokenRequestSchema(ma.Schema):
    grant_type = fields.String(required=True, metadata={"description": "`password`"})
    username = fields.String(required=True)
    password = fields.String(required=True)
    scope = fields.String(metadata={"description": "space-separated: read:pets write:pets"})
    client_id = fields.String()
    client_secret = fields.String()


class OAuthTokenResponseSchema(ma.Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    scope = fields.String()


# ``GET /store/inventory``: a map of pet status to the number of pets in it, documented as
# the official definition does (a map, so generated clients return a plain dict).
INVENTORY = {"type": "object", "additionalProperties": {"type": "integer", "format": "int32"},
             "example": {"available": 7, "pending": 2, "sold": 1}}


class ListPageSchema(ma.Schema):
    """Timekit's list shape, defined once: subclasses add ``data``. Dumps an object with
    ``total``, ``per_page``, ``current_page``, ``last_page``, ``first``, ``last`` and the
    page links."""

    total = fields.Integer()
    per_page = fields.Integer()
    current_page = fields.Integer()
    last_page = fields.Integer()
    next_page_url = fields.String(allow_none=True)
    prev_page_url = fields.String(allow_none=True)
    from_ = fields.Integer(data_key="from", attribute="first", allow_none=True)
    to = fields.Integer(attribute="last", allow_none=True)
