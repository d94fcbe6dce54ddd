"""Timekit API v2: the Swagger Petstore v2 operations, Timekit's authentication and booking
engine, as a Flask WSGI service.

The package's tree is its architecture, bottom to top (docs/ARCHITECTURE.md): ``settings``;
``database/`` (db, models, migrations); ``domain/`` (pets, accounts, tokens, orders, access,
the booking engine); ``http/`` (parser, errors, auth, blueprints); the entry points
``app`` (the factory), ``cli``, ``serving`` and ``embed``.
"""

from .app import create_app

__version__ = "0.1.0"
__all__ = ["create_app"]
