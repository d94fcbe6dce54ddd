"""Serving with waitress, including the seed's ``api_key`` header.

waitress (like gunicorn, nginx and Werkzeug's own server) drops every request header whose
name contains ``_``, because ``api_key`` and ``api-key`` would both become ``HTTP_API_KEY``
and one could spoof the other behind a proxy. The seed's security scheme *is* ``api_key``,
so generated clients send exactly that. ``allow_api_key_header()`` renames that single
header to ``api-key`` before waitress parses it; every other underscore header is still
dropped. ``wsgi.py`` calls it, so plain ``waitress-serve wsgi:app`` works too.
"""

from __future__ import annotations

import re

import waitress
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser

API_KEY_LINE = re.compile(rb"(\r\n)api_key(?=[ \t]*:)", re.IGNORECASE)


class ApiKeyHeaderParser(HTTPRequestParser):
    def parse_header(self, header_plus: bytes):
        return super().parse_header(API_KEY_LINE.sub(rb"\1api-key", header_plus))


def allow_api_key_header() -> None:
    """Make every waitress server in this process accept the ``api_key`` header."""
    HTTPChannel.parser_class = ApiKeyHeaderParser


def serve(app, host: str = "127.0.0.1", port: int = 8080, threads: int = 4, **options) -> None:
    allow_api_key_header()
    waitress.serve(app, host=host, port=port, threads=threads, **options)
