"""Small response builders shared by the blueprints."""

from __future__ import annotations

from flask import current_app, request
from werkzeug.wsgi import wrap_file

from ..domain.catalog import Answer
from .xml import wants_xml

ANSWER_BLOCK = 64 * 1024  # bytes per read when a file answer is sent


def api_response(message: str, code: int = 200) -> dict:
    """The reference server's ApiResponse for operations that return no object."""
    return {"code": code, "type": "unknown", "message": message}


def json_response(text: str | bytes):
    """Already-serialised JSON (a stored pet document, a cached list) as it is."""
    return current_app.response_class(text, mimetype="application/json")


def answer_response(answer: Answer):
    """A computed list or count (``domain/catalog.py``) as JSON: a large one is sent from its
    file in blocks (waitress's ``wsgi.file_wrapper``), never read whole into memory; the
    XML hook (``xml.py``) needs the bytes, so an XML answer reads them."""
    if answer.data is not None or wants_xml():
        return json_response(answer.read())
    response = current_app.response_class(
        wrap_file(request.environ, answer.open(), ANSWER_BLOCK),
        mimetype="application/json", direct_passthrough=True)
    response.content_length = answer.size
    return response
