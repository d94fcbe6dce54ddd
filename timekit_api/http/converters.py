"""URL converters. ``<id:pet_id>`` matches any path segment so that a malformed id is a
400 "Invalid ID supplied" (as the seed says), not a routing 404."""

from __future__ import annotations

from flask_smorest import abort
from werkzeug.routing import BaseConverter

from ..domain.ids import MAX_ID, MIN_ID, parse_id


class IdConverter(BaseConverter):
    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        ident = parse_id(value)
        if ident is None:
            abort(400, message="Invalid ID supplied")
        return ident

    def to_url(self, value) -> str:
        return str(int(value))


def id_parameter_schema(converter) -> dict:
    return {"type": "integer", "format": "int64", "minimum": MIN_ID, "maximum": MAX_ID}
