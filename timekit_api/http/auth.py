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

from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth

from ..domain.tokens import Principal, find_principal
from .errors import error_response

SCHEME_NAMES = ("api_key", "petstore_auth", "bearer_token", "basic_token")
AUTHENTICATE_HEADER = 'Bearer realm="Timekit API"'

bearer_auth = HTTPTokenAuth(scheme="Bearer")
# Werkzeug maps both "api_key" and "api-key" to HTTP_API_KEY, so one object reads both.
api_key_auth = HTTPTokenAuth(scheme="ApiKey", header="api_key")
basic_auth = HTTPBasicAuth()
multi_auth = MultiAuth(bearer_auth, api_key_auth, basic_auth)

bearer_auth.verify_token(find_principal)
api_key_auth.verify_token(find_principal)


@basic_auth.verify_password
def _principal_for_basic(login: str, api_token: str) -> Principal | None:
    principal = find_principal(api_token)
    if principal and login in (principal.username, principal.email):
        return principal
    # Timekit's app-key form: Basic base64(":" + key), for API keys only.
    if principal and login == "" and principal.credential_id is not None:
        return principal
    return None


def _roles(principal: Principal):
    return list(principal.scopes)


def _auth_error(status: int):
    if status == 403:
        return error_response(403, "Token lacks the scope this operation needs")
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


def security_requirements(scope: str | None) -> list[dict]:
    """OpenAPI ``security`` for an operation: any one of the schemes will do."""
    return [{"api_key": []}, {"petstore_auth": [scope] if scope else []},
            {"bearer_token": []}, {"basic_token": []}]


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
