"""URL converters. ``<id:pet_id>`` matches any path segment so that a malformed id is a
400 "Invalid ID supplied" (as the seed says), not a routing 404."""

from __future__ import annotations

from flask_smorest import abort
from werkzeug.routing import BaseConverter

MAX_ID = 2**63 - 1


class IdConverter(BaseConverter):
    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ID:
            return int(value)
        abort(400, message="Invalid ID supplied")

    def to_url(self, value) -> str:
        return str(int(value))


def id_parameter_schema(converter) -> dict:
    return {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
