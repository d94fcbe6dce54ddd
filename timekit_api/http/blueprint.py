"""flask-smorest's ``Api`` and ``Blueprint``, subclassed once so that every blueprint parses
arguments the same way (``parser.py``), answers errors in the contract's shape
(``errors.py``), and enforces and documents authentication with one decorator
(``login_required``)."""

from __future__ import annotations

from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint

from ..domain.tokens import PERMISSIONS
from . import auth, errors
from .parser import Parser


class Blueprint(SmorestBlueprint):
    """A blueprint whose operations are filed under the spec tag ``tag`` (several
    blueprints may share one: pets and bookings are both "Booking")."""

    ARGUMENTS_PARSER = Parser()
    PAGINATION_ARGUMENTS_PARSER = Parser()

    def __init__(self, name: str, import_name: str, *, tag: str, **kwargs):
        super().__init__(name, import_name, description=tag, **kwargs)
        self.tag = tag

    def route(self, rule, *, parameters=None, tags=None, **options):
        return super().route(rule, parameters=parameters, tags=tags or [self.tag], **options)

    # "multipart" (form fields and files in one schema) is documented as a request body.
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **SmorestBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def login_required(self, permission: str | None):
        """Require credentials that hold ``permission`` and document both.

        ``permission`` is one of ``domain/tokens.PERMISSIONS``: ``read:pets`` (reads),
        ``write:pets`` (pet writes, orders and bookings) or ``account`` (managing the
        account: only tokens without scope limits hold it), or None for what any valid
        token may do (signing itself out). Scoped OAuth2 tokens hold only their scopes.
        """
        if permission is not None and permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")

        def decorator(func):
            func = auth.multi_auth.login_required(role=permission)(func)
            func = self.fails_with(_401="Missing, invalid or expired credentials")(func)
            if permission:
                func = self.fails_with(_403=f"The token does not hold {permission!r}, or the "
                                             "object belongs to another user")(func)
            return self.doc(security=auth.security_requirements(permission))(func)

        return decorator

    def fails_with(self, **descriptions: str):
        """Document error responses: ``fails_with(_400="Invalid ID supplied")``."""

        def decorator(func):
            for code, description in descriptions.items():
                func = self.alt_response(int(code.lstrip("_")), schema=errors.ErrorSchema,
                                         description=description)(func)
            return func

        return decorator


class Api(SmorestApi):
    """flask-smorest's Api, answering every HTTP error in the contract's shape."""

    ERROR_SCHEMA = errors.ErrorSchema

    def handle_http_exception(self, error):
        return errors.http_error_response(error)

