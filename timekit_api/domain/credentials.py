"""API keys (Timekit's app keys): long-lived credentials for scripts and CI.

A key is ``live_api_key_`` plus 40 random characters, shown once when it is created and
stored only as its SHA-256 digest. It may carry scopes (``read:pets``, ``write:pets``;
none means no limits) and an expiry (none means never). Authentication reads keys in the
same path as tokens (``tokens.find_key_principal``): every request asks the database, so
deleting a key, or its user, revokes it at once on every instance.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import string

import marshmallow as ma
import sqlalchemy as sa
from marshmallow import fields, validate

from ..database import db, run_in_transaction, utcnow
from ..database.models import Credential
from .errors import CredentialNotFound, Invalid, NeedsFullAccess
from .tokens import API_KEY_PREFIX, PET_SCOPES, Principal, digest

KEY_ALPHABET = string.ascii_letters + string.digits
KEY_RANDOM_LENGTH = 40  # ~238 bits


def new_key() -> str:
    return API_KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET)
                                    for _ in range(KEY_RANDOM_LENGTH))


def require_full_access(principal: Principal) -> None:
    """Managing API keys needs a credential without scope limits (contract section 3)."""
    if principal.token_scopes is not None:
        raise NeedsFullAccess("Managing API keys needs a credential without scope limits")


@dataclasses.dataclass(frozen=True)
class IssuedCredential:
    """A new key's row plus the plain key, which exists only in this answer."""

    credential: Credential
    key: str

    def __getattr__(self, name):
        return getattr(self.credential, name)


def create_credential(principal: Principal, name: str, scopes: list[str] | None,
                      expires_at: dt.datetime | None) -> IssuedCredential:
    require_full_access(principal)
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("Invalid credential", {"expires_at": ["Must be in the future"]})
    stored_scopes = None
    if scopes is not None:
        if not scopes:
            raise Invalid("Invalid credential", {"scopes": [
                "Give at least one scope, or leave `scopes` out for a key without limits"]})
        stored_scopes = " ".join(s for s in PET_SCOPES if s in scopes)
    key = new_key()
    row = Credential(user_id=principal.user_id, name=name, digest=digest(key),
                     scopes=stored_scopes, created_at=utcnow(), expires_at=expires_at)

    def work():
        db.session.add(row)
        db.session.flush()
        return IssuedCredential(row, key)

    return run_in_transaction(work)


def list_credentials(principal: Principal) -> list[Credential]:
    require_full_access(principal)
    return list(db.session.scalars(
        sa.select(Credential).where(Credential.user_id == principal.user_id)
        .order_by(Credential.id)))


def delete_credential(principal: Principal, credential_id: int) -> None:
    """Delete one of the caller's keys; another user's is as unknown as a missing one."""
    require_full_access(principal)

    def work():
        deleted = db.session.execute(
            sa.delete(Credential).where(Credential.id == credential_id,
                                        Credential.user_id == principal.user_id))
        if deleted.rowcount != 1:
            raise CredentialNotFound("Credential not found")

    run_in_transaction(work)


# --- wire shapes ----------------------------------------------------------------------------

class CredentialCreateSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255),
                         metadata={"example": "CI deploy job"})
    scopes = fields.List(fields.String(validate=validate.OneOf(PET_SCOPES)), allow_none=True,
                         validate=validate.Length(max=len(PET_SCOPES) * 4), metadata={
                             "description": "limit the key to these scopes; leave out (or "
                                            "null) for a key without limits"})
    expires_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "RFC 3339 with an offset; leave out (or null) for a key that never "
                       "expires"})


def _scope_list(credential) -> list[str] | None:
    return credential.scopes.split() if credential.scopes is not None else None


class CredentialSchema(ma.Schema):
    id = fields.Integer(metadata={"format": "int64"})
    name = fields.String()
    scopes = fields.Function(_scope_list, allow_none=True,
                             metadata={"type": "array", "items": {"type": "string"},
                                       "nullable": True})
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class NewCredentialSchema(CredentialSchema):
    key = fields.String(metadata={"description": "the API key; shown only in this answer"})


class NewCredentialEnvelopeSchema(ma.Schema):
    data = fields.Nested(NewCredentialSchema)


class CredentialListSchema(ma.Schema):
    data = fields.List(fields.Nested(CredentialSchema))
