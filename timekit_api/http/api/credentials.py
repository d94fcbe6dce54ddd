"""Authentication tag, API keys: long-lived credentials for scripts and CI (contract section 3).

The rules are ``domain/credentials.py``'s; every operation needs a credential without scope
limits (a scoped key or OAuth2 token gets 403).
"""

from __future__ import annotations

from flask.views import MethodView

from ...domain import credentials, schemas
from ...domain.tokens import ACCOUNT
from ..auth import current_principal
from ..blueprint import Blueprint
from ..responses import api_response

blp = Blueprint("credentials", __name__, url_prefix="/credentials", tag="Authentication")

FULL_ACCESS = "The credential has scope limits (managing API keys needs one without)"


@blp.route("")
class Credentials(MethodView):
    @blp.login_required(ACCOUNT)
    @blp.idempotent()
    @blp.arguments(credentials.CredentialCreateSchema, example={
        "name": "CI deploy job", "scopes": ["read:pets", "write:pets"],
        "expires_at": "2027-12-31T23:59:59Z"})
    @blp.response(201, credentials.NewCredentialEnvelopeSchema,
                  description="the new key, shown only in this answer")
    @blp.fails_with(_400="Invalid name, scopes or expiry", _403=FULL_ACCESS,
                    _415="Body is not JSON")
    @blp.doc(operationId="createCredential")
    def post(self, data):
        """Create an API key

        The key (`live_api_key_...`) is shown once, in this answer; only its digest is
        stored. It works in every credential form: `Authorization: Bearer <key>`, header
        `api_key`/`api-key`, `Authorization: Basic base64(email:key)` and Timekit's
        `Authorization: Basic base64(":" + key)`. Without `scopes` it has no limits; without
        `expires_at` it never expires.
        """
        issued = credentials.create_credential(current_principal(), data["name"],
                                               data.get("scopes"), data.get("expires_at"))
        return {"data": issued}, 201

    @blp.login_required(ACCOUNT)
    @blp.response(200, credentials.CredentialListSchema, description="your API keys")
    @blp.fails_with(_403=FULL_ACCESS)
    @blp.doc(operationId="listCredentials")
    def get(self):
        """List your API keys

        Without the keys themselves (they are shown only when created).
        """
        return {"data": credentials.list_credentials(current_principal())}


@blp.route("/<id:credential_id>")
class CredentialById(MethodView):
    @blp.login_required(ACCOUNT)
    @blp.response(200, schemas.ApiResponseSchema, description="the key is revoked")
    @blp.fails_with(_400="Invalid ID supplied", _403=FULL_ACCESS,
                    _404="Credential not found")
    @blp.doc(operationId="deleteCredential")
    def delete(self, credential_id):
        """Delete (revoke) an API key

        Refused at once by every instance from then on. Another user's key is not found.
        """
        credentials.delete_credential(current_principal(), credential_id)
        return api_response(str(credential_id))
