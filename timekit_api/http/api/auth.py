"""Authentication tag: Timekit's ``POST /auth`` and the OAuth2 password grant."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from ...database import db
from ...domain import accounts, schemas
from ...domain.tokens import PET_SCOPES, issue_token, new_pair_id
from ..auth import AUTHENTICATE_HEADER
from ..blueprint import Blueprint
from ..errors import OAuthErrorSchema, error_response

blp = Blueprint("auth", __name__, url_prefix="", tag="Authentication")


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 section 5.1


def ttl() -> int:
    return current_app.config["TOKEN_TTL_SECONDS"]


@blp.route("/auth")
class Auth(MethodView):
    @blp.operation("authenticate")
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
        user = accounts.verify_login(credentials["email"], credentials["password"],
                                     current_app.config, request.remote_addr)
        if user is None:
            abort(401, message="Could not authorize user based on credentials",
                  headers={"WWW-Authenticate": AUTHENTICATE_HEADER})
        pair = new_pair_id()
        token, row = issue_token(user, "auth", ttl(), pair_id=pair)
        api_token, _ = issue_token(user, "api", ttl(), pair_id=pair)
        db.session.commit()
        return {"data": accounts.SignIn(user, token, api_token, row.created_at)}, 200, NO_STORE


def oauth_error(error: str, description: str, status: int = 400):
    """RFC 6749 section 5.2 fields inside the contract's error shape."""
    response = error_response(status, description)
    payload = response.get_json() | {"error": error, "error_description": description}
    response.set_data(current_app.json.dumps(payload))
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/oauth/token")
class OAuthToken(MethodView):
    @blp.operation("issueOAuthToken")
    @blp.arguments(schemas.OAuthTokenRequestSchema, location="form")
    @blp.response(200, schemas.OAuthTokenResponseSchema, description="Token issued")
    @blp.alt_response(400, schema=OAuthErrorSchema, description="invalid_request, "
                      "invalid_grant, invalid_scope or unsupported_grant_type")
    @blp.fails_with(_415="Body is not form data",
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
        user = accounts.verify_login(form["username"], form["password"], current_app.config,
                                     request.remote_addr)
        if user is None:
            return oauth_error("invalid_grant", "Invalid username or password")
        scopes = " ".join(s for s in PET_SCOPES if s in requested)
        token, _ = issue_token(user, "oauth", ttl(), scopes=scopes)
        db.session.commit()
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": current_app.config["TOKEN_TTL_SECONDS"], "scope": scopes}, \
            200, NO_STORE
