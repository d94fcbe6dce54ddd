"""``Idempotency-Key`` on the wire: one decorator for every creating ``POST``
(contract section 3), which ``Blueprint.idempotent`` also documents.

The rules and the records are ``domain/idempotency.py``'s. Here: the caller (the signed-in
user, or the client address for an anonymous sign-up), the request's fingerprint (method,
path, body digest), replaying a stored answer with ``Idempotent-Replayed: true``, and
storing the answer of a request that ran.
"""

from __future__ import annotations

import functools

from flask import current_app, request

from ..database import db, utcnow
from ..domain import idempotency
from .auth import current_principal

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# The response headers that belong to the answer itself (not to this delivery of it).
STORED_HEADERS = ("Content-Type", "Location", "Cache-Control", "Vary", "ETag",
                  "X-Expires-After")

PARAMETER_DOC = {
    "name": HEADER, "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH,
               "pattern": "^[!-~]([ -~]*[!-~])?$"},
    "description": "Makes a retry safe: for 24 hours the same caller sending the same key "
                   "and the same request gets the first answer again (with "
                   "`Idempotent-Replayed: true`) and nothing is created twice. The same key "
                   "with a different request is 422; while the first is still running, 409.",
}
REPLAYED_HEADER_DOC = {
    "required": False,
    "description": "`true` when this is the stored answer of an earlier request with the "
                   "same `Idempotency-Key`",
    "schema": {"type": "string", "enum": ["true"]},
}


def caller() -> str:
    principal = current_principal()
    if principal is not None:
        return f"user:{principal.user_id}"
    return f"address:{request.remote_addr}"


def fingerprint() -> str:
    query = request.query_string.decode("latin-1")
    return f"{request.method} {request.path}" + (f"?{query}" if query else "")


def replay(answer: idempotency.Answer):
    response = current_app.response_class(answer.body, status=answer.status)
    response.headers.clear()
    for name, value in answer.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(view):
    """Honour ``Idempotency-Key`` around ``view``; requests without the header pass through.
    Place it below the authentication decorator (it needs the caller) and above
    ``arguments`` (so that the claim covers the whole operation)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        config = current_app.config
        outcome = idempotency.claim_or_replay(
            caller(), idempotency.validate_key(key), fingerprint(),
            idempotency.body_digest(request.get_data(cache=True)), utcnow(),
            ttl_seconds=config["IDEMPOTENCY_KEY_TTL_SECONDS"],
            in_flight_seconds=config["IDEMPOTENCY_IN_FLIGHT_SECONDS"])
        if isinstance(outcome, idempotency.Answer):
            return replay(outcome)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            idempotency.release(outcome)
            raise
        if response.status_code >= 500:
            idempotency.release(outcome)
            return response
        idempotency.complete(outcome, idempotency.Answer(
            response.status_code, response.get_data(),
            {name: response.headers[name] for name in STORED_HEADERS
             if name in response.headers}))
        return response

    return wrapper
