"""XML on the wire, as the official Petstore definition offers it (contract section 1).

Written once for every Petstore operation: the parser reads an ``application/xml`` body
into the same data a JSON body gives (``load``, typed by the operation's own schema), and a
response hook turns a JSON answer into XML when the client's ``Accept`` prefers it
(``init_app``), errors included. Element names are the definition's: ``<Pet>``,
``<Category>``, ``<photoUrls><photoUrl>``, ``<tags><tag>``, ``<Order>``, ``<User>``,
``<ApiResponse>``; a list is repeated elements under one root (``<pets><Pet>...``).

Parsing uses defusedxml with document type declarations forbidden: entity expansion
("billion laughs") and external entities never run, they are a 400.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

import marshmallow as ma
import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from flask import Flask, request
from marshmallow import fields

XML_TYPES = ("application/xml", "text/xml")
XML_MIMETYPE = "application/xml"
OFFERED = ("application/json", XML_MIMETYPE)

# The root element of an object answer, by blueprint (the Petstore ones), and of a list.
OBJECT_ROOTS = {"pet": "Pet", "store": "Order", "user": "User"}
LIST_ROOTS = {"Pet": "pets", "Order": "orders", "User": "users"}
# Answers whose root is not their blueprint's object.
ENDPOINT_ROOTS = {"store.Inventory": "inventory", "user.Login": "string"}
# Element names that differ from the JSON key: the object and the items of a list.
ELEMENT_NAMES = {"category": "Category"}
ITEM_NAMES = {"photoUrls": "photoUrl", "tags": "tag"}
API_RESPONSE_KEYS = {"code", "type", "message"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


class InvalidXml(ValueError):
    """The body is not XML this service reads (malformed, or declares a DTD/entities)."""


# --- reading ---------------------------------------------------------------------------------

def load(body: bytes, schema: ma.Schema):
    """The data of an XML body, shaped and typed for ``schema`` (which then validates it)."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidXml("Document type declarations and entities are refused") from exc
    except (ParseError, ValueError) as exc:
        raise InvalidXml(f"Not well-formed XML: {exc}") from exc
    if getattr(schema, "many", False):
        return [_object(child, schema) for child in root]
    return _object(root, schema)


def _object(element: Element, schema: ma.Schema) -> dict:
    by_key = {}
    for name, field in schema.fields.items():
        if not field.dump_only:
            key = field.data_key or name
            by_key[key] = (key, field)
            by_key[key.lower()] = (key, field)
            by_key[ELEMENT_NAMES.get(key, key).lower()] = (key, field)
    data = {}
    for child in element:
        key, field = by_key.get(child.tag, by_key.get(str(child.tag).lower(), (child.tag, None)))
        data[key] = _value(child, field)
    return data


def _value(element: Element, field):
    if isinstance(field, fields.List):
        return [_value(child, field.inner) for child in element]
    if isinstance(field, fields.Nested):
        schema = field.schema
        return _object(element, schema)
    text = element.text or ""
    if isinstance(field, fields.Integer):
        try:
            return int(text.strip())
        except ValueError:
            return text  # the schema says why
    if isinstance(field, fields.Boolean):
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    return text  # an unknown element: its text, which the schema then refuses by name


# --- writing ---------------------------------------------------------------------------------

def _text(value) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return str(value).translate(_ESCAPES)


def _element(name: str, value, out: list) -> None:
    if value is None:
        return
    if not NAME.match(name):  # a key that is not an element name (say "tags[0]")
        out.append(f'<entry key="{_text(name)}">')
        _content(name, value, out)
        out.append("</entry>")
        return
    out.append(f"<{name}>")
    _content(name, value, out)
    out.append(f"</{name}>")


def _content(name: str, value, out: list) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _element(ELEMENT_NAMES.get(key, key), item, out)
    elif isinstance(value, list):
        item_name = ITEM_NAMES.get(name, "item")
        for item in value:
            _element(item_name, item, out)
    else:
        out.append(_text(value))


def dumps(value, root: str) -> bytes:
    """``value`` (decoded JSON) as an XML document whose root element is ``root``; a list
    is repeated ``root`` elements under ``LIST_ROOTS[root]``."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    if isinstance(value, list):
        wrapper = LIST_ROOTS.get(root, "items")
        out.append(f"<{wrapper}>")
        for item in value:
            _element(root, item, out)
        out.append(f"</{wrapper}>")
    elif isinstance(value, dict) and API_RESPONSE_KEYS <= value.keys():
        _element("ApiResponse", value, out)
    else:
        _element(root, value, out)
    return "".join(out).encode()


def wants_xml() -> bool:
    """The request's ``Accept`` prefers XML to JSON (quality values decide; JSON on a tie
    and by default)."""
    accept = request.headers.get("Accept", "")
    if "xml" not in accept:
        return False
    return request.accept_mimetypes.best_match(OFFERED, default=OFFERED[0]) == XML_MIMETYPE


def init_app(app: Flask) -> None:
    @app.after_request
    def answer_in_xml(response):
        root = OBJECT_ROOTS.get(request.blueprint)
        if root is None:
            return response
        vary = response.headers.get("Vary")  # (not ``response.vary``: parsing it costs)
        response.headers["Vary"] = f"{vary}, Accept" if vary else "Accept"
        if not wants_xml() or response.mimetype != "application/json" \
                or response.direct_passthrough:
            return response
        root = ENDPOINT_ROOTS.get(request.endpoint, root)
        response.set_data(dumps(orjson.loads(response.get_data()), root))
        response.mimetype = XML_MIMETYPE  # Werkzeug adds "; charset=utf-8"
        return response
