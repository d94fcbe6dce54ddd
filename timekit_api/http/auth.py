"""Credentials on the wire: Flask-HTTPAuth wiring and the OpenAPI security schemes.

Tried in this order on every protected operation (contract section 3):
``Authorization: Bearer <token>``, header ``api_key``/``api-key: <token>``, and
``Authorization: Basic base64(email-or-username:api_token)``; an API key (``live_api_key_...``)
works in each of them, and also as Timekit's ``Authorization: Basic base64(":" + key)``
(an empty username). What a token means is the
domain's business (``domain/tokens.py``); who may do what, the access policy's
(``domain/access.py``).
"""

from __future__ import annotations

import base64
import binascii

from flask import Flask, g, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth

from ..domain.tokens import ACCOUNT, Principal, find_principal
from .errors import error_response

SCHEME_NAMES = ("api_key", "petstore_auth", "bearer_token", "basic_token")
AUTHENTICATE_HEADER = 'Bearer realm="Timekit API"'

bearer_auth = HTTPTokenAuth(scheme="Bearer")
# Werkzeug maps both "api_key" and "api-key" to HTTP_API_KEY, so one object reads both.
api_key_auth = HTTPTokenAuth(scheme="ApiKey", header="api_key")
basic_auth = HTTPBasicAuth()
multi_auth = MultiAuth(bearer_auth, api_key_auth, basic_auth)

NOT_CHECKED = object()


def _presented_credentials() -> list[tuple[str | None, str]]:
    """Every credential the request carries, as (login or None, token): the Authorization
    header (Bearer or Basic) and the api_key/api-key header."""
    found = []
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        found.append((None, value))
    elif scheme.lower() == "basic":
        try:
            login, _, token = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            login, token = "", ""
        found.append((login, token))
    elif scheme:
        found.append((None, ""))  # a scheme we do not know is a credential that fails
    if "api-key" in request.headers:
        found.append((None, request.headers["api-key"]))
    return found


def request_principal() -> Principal | None:
    """The caller, from every credential the request carries, looked up once per request.

    None when there is none, when one of them is invalid, or when they name different
    tokens' users: two credentials that disagree are refused (401), never resolved by
    picking one. Timekit's Basic login may be the user's email or username; an empty one
    is allowed (an API key alone)."""
    cached = g.get("timekit_principal", NOT_CHECKED)
    if cached is not NOT_CHECKED:
        return cached
    principals = []
    for login, token in _presented_credentials():
        principal = find_principal(token)
        # Timekit's app-key form, Basic base64(":" + key), is for API keys only.
        empty_login_ok = login == "" and principal is not None and principal.credential_id
        if principal is None or (login not in (None, principal.username, principal.email)
                                 and not empty_login_ok):
            principals = [None]
            break
        principals.append(principal)
    users = {p.user_id if p else None for p in principals}
    principal = principals[0] if len(users) == 1 else None
    g.timekit_principal = principal
    g.timekit_credentials_sent = bool(principals)
    return principal


bearer_auth.verify_token(lambda token: request_principal())
api_key_auth.verify_token(lambda token: request_principal())
basic_auth.verify_password(lambda login, password: request_principal())


def _roles(principal: Principal):
    return list(principal.permissions)


def _auth_error(status: int):
    if status == 403:
        return error_response(403, "This token's scopes do not allow this operation (managing "
                                   "the account needs a token without scope limits)")
    return error_response(401, "Missing, invalid or expired credentials",
                          headers={"WWW-Authenticate": AUTHENTICATE_HEADER})


# Each auth object gets its own handler (stacked handlers answer with the wrong header).
for _auth in (bearer_auth, api_key_auth, basic_auth):
    _auth.get_user_roles(_roles)
    _auth.error_handler(_auth_error)


def current_principal() -> Principal | None:
    return multi_auth.current_user()


def current_user_id() -> int:
    """The signed-in user's id; only valid inside an operation guarded by ``login_required``."""
    return multi_auth.current_user().user_id


def security_requirements(permission: str | None) -> list[dict]:
    """OpenAPI ``security`` for an operation: any one of the schemes will do. OAuth2 tokens
    always carry scopes, so operations that manage the account do not list them."""
    oauth = [] if permission == ACCOUNT else [
        {"petstore_auth": [permission] if permission else []}]
    return [{"api_key": []}, *oauth, {"bearer_token": []}, {"basic_token": []}]


def init_app(app: Flask) -> None:
    @app.after_request
    def private_answers(response):
        """An answer to a request that carried credentials may hold private data or a
        token: no cache keeps it, and caches keyed on the URL alone must not serve it to
        another caller."""
        if g.get("timekit_credentials_sent"):
            response.headers.setdefault("Cache-Control", "no-store")
            response.vary.update(("Authorization", "api-key"))
        return response


def security_schemes(token_url: str) -> dict:
    return {
        "api_key": {"type": "apiKey", "name": "api_key", "in": "header",
                    "description": "A token from `POST /auth`, `GET /user/login` or "
                                   "`POST /oauth/token`, or an API key (`live_api_key_...`) "
                                   "from `POST /credentials` (`api-key` is accepted too)"},
        "petstore_auth": {"type": "oauth2", "flows": {"password": {
            "tokenUrl": token_url,
            "scopes": {"read:pets": "read your pets", "write:pets": "modify pets in your account"},
        }}},
        "bearer_token": {"type": "http", "scheme": "bearer",
                         "description": "Any issued token or API key as "
                                        "`Authorization: Bearer <token>`"},
        "basic_token": {"type": "http", "scheme": "basic",
                        "description": "Timekit's scheme: email (or username) and `api_token` "
                                       "or an API key; for an API key the username may be "
                                       "empty (`Basic base64(\":\" + key)`, Timekit's app keys)"},
    }
