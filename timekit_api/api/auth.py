"""Authentication tag: Timekit's ``POST /auth`` and the OAuth2 password grant."""

from __future__ import annotations

import hashlib

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from .. import schemas
from ..errors import error_response
from ..extensions import Blueprint, db
from ..models import User
from ..security import PET_SCOPES, issue_token, verify_login

blp = Blueprint("auth", __name__, url_prefix="", tag="Authentication")


def avatar_url(email: str | None) -> str:
    # Gravatar addresses avatars by the MD5 of the address: an identifier, not a secret.
    key = hashlib.md5((email or "").strip().lower().encode()).hexdigest()
    return f"https://www.gravatar.com/avatar/{key}"


def timekit_user(user: User, token: str, api_token: str, issued_at) -> dict:
    names = [n for n in (user.first_name, user.last_name) if n]
    return {
        "activated": True,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "name": " ".join(names) or user.username,
        "img": avatar_url(user.email),
        "timezone": user.timezone,
        "last_sync": None,
        "token": token,
        "token_generated_at": issued_at,
        "api_token": api_token,
    }


@blp.route("/auth")
class Auth(MethodView):
    @blp.arguments(schemas.AuthRequestSchema)
    @blp.response(200, schemas.AuthResponseSchema,
                  description="User was successfully authenticated")
    @blp.fails_with(_400="Malformed request", _401="Could not authorize user based on credentials",
                    _415="Body is not JSON", _429="Too many failed attempts; see Retry-After")
    def post(self, credentials):
        """Authenticate a user and get their API token

        Both `token` and `api_token` authenticate later requests (as `api_key`, Bearer, or
        Basic `email:api_token`). Each call issues a fresh pair; only digests are stored.
        """
        user = verify_login(credentials["email"], credentials["password"])
        if user is None:
            abort(401, message="Could not authorize user based on credentials",
                  headers={"WWW-Authenticate": 'Bearer realm="Timekit API"'})
        token, row = issue_token(user, "auth")
        api_token, _ = issue_token(user, "api")
        db.session.commit()
        return {"data": timekit_user(user, token, api_token, row.created_at)}


def oauth_error(error: str, description: str, status: int = 400):
    """RFC 6749 section 5.2 fields inside the contract's error shape."""
    response = error_response(status, description)
    payload = response.get_json() | {"error": error, "error_description": description}
    response.set_data(current_app.json.dumps(payload))
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/oauth/token")
class OAuthToken(MethodView):
    @blp.arguments(schemas.OAuthTokenRequestSchema, location="form")
    @blp.response(200, schemas.OAuthTokenResponseSchema, description="Token issued")
    @blp.fails_with(_400="invalid_request, invalid_grant, invalid_scope or "
                    "unsupported_grant_type", _415="Body is not form data",
                    _429="Too many failed attempts; see Retry-After")
    def post(self, form):
        """OAuth2 token endpoint (password grant) for `petstore_auth`

        A public client: no client credentials are needed. `scope` is a space-separated subset
        of `read:pets write:pets` (both when left out).
        """
        if form["grant_type"] != "password":
            return oauth_error("unsupported_grant_type", "Only the password grant is supported")
        requested = (form.get("scope") or " ".join(PET_SCOPES)).split()
        unknown = [s for s in requested if s not in PET_SCOPES]
        if unknown:
            return oauth_error("invalid_scope", f"Unknown scope: {' '.join(unknown)}")
        user = verify_login(form["username"], form["password"])
        if user is None:
            return oauth_error("invalid_grant", "Invalid username or password")
        scopes = " ".join(s for s in PET_SCOPES if s in requested)
        token, _ = issue_token(user, "oauth", scopes=scopes)
        db.session.commit()
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": current_app.config["TOKEN_TTL_SECONDS"], "scope": scopes}
