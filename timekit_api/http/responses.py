"""Small response builders shared by the blueprints."""

from __future__ import annotations

from flask import current_app


def api_response(message: str, code: int = 200) -> dict:
    """The reference server's ApiResponse for operations that return no object."""
    return {"code": code, "type": "unknown", "message": message}


def json_response(text: str | bytes):
    """Already-serialised JSON (a stored pet document, a cached list) as it is."""
    return current_app.response_class(text, mimetype="application/json")
