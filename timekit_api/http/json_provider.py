"""Answers encoded by orjson: Flask's JSON provider with a faster encoder.

The standard library's encoder took a tenth of a large answer's time (1 ms of ~10 for a
700-slot availability answer, benchmarks/PROFILE.md). orjson writes UTF-8 instead of
``\\uXXXX`` escapes (the same JSON), and hands what it does not know natively to Flask's
``default`` (dates as HTTP dates, decimals, UUIDs, dataclasses), so the values read the same.
Whatever orjson refuses (integers beyond 64 bits, say) is encoded by the standard library.
"""

from __future__ import annotations

import typing

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class FastJSONProvider(DefaultJSONProvider):
    sort_keys = False  # keys in the order the schemas declare them

    def _encode(self, obj: typing.Any, indent: bool) -> bytes | None:
        try:
            return orjson.dumps(obj, default=self.default,
                                option=_OPTIONS | (orjson.OPT_INDENT_2 if indent else 0))
        except orjson.JSONEncodeError:
            return None

    def dumps(self, obj: typing.Any, **kwargs: typing.Any) -> str:
        if not kwargs or kwargs == {"separators": (",", ":")}:
            encoded = self._encode(obj, indent=False)
            if encoded is not None:
                return encoded.decode()
        return super().dumps(obj, **kwargs)

    def response(self, *args: typing.Any, **kwargs: typing.Any):
        obj = self._prepare_response_obj(args, kwargs)
        indent = (self.compact is None and self._app.debug) or self.compact is False
        encoded = self._encode(obj, indent)
        if encoded is None:
            return super().response(obj)
        return self._app.response_class(encoded + b"\n", mimetype=self.mimetype)


__all__ = ["FastJSONProvider"]
