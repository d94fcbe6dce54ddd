"""The domain's exceptions: what went wrong, in the domain's words.

Each carries a message and, for invalid input, per-field reasons (``errors``) in the
contract's wire names. The HTTP layer maps each kind to a status and the contract's error
shape (``http/errors.py``, ``STATUS_OF``); the CLI prints the message.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, message: str, errors: dict | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = headers


class Invalid(DomainError):
    """The request breaks a rule of the domain (a field's value, a combination of fields)."""

class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    """Signed in, but this object belongs to someone else."""

class Conflict(DomainError):
    """The request is valid but clashes with stored data (taken name, id, time slot...)."""

class TooManyAttempts(DomainError):
    pass


class TooLarge(DomainError):
    """The request asks for more work than one request may (a batch past its limit)."""


class Busy(DomainError):
    """The service cannot take this work now (every hashing slot taken); try again soon."""


# --- accounts ------------------------------------------------------------------------------

class InvalidUsername(Invalid):
    pass


class UsernameTaken(Conflict):
    pass


class UserNotFound(NotFound):
    pass


# --- pets and orders -----------------------------------------------------------------------

class PetNotFound(NotFound):
    pass


class PetExists(Conflict):
    pass


class InvalidPet(Invalid):
    """A pet body the Petstore answers 405 for ("Invalid input")."""


class OrderNotFound(NotFound):
    pass


class OrderExists(Conflict):
    pass


class ImageNotFound(NotFound):
    pass


class ImageTooLarge(Invalid):
    pass


# --- bookings -------------------------------------------------------------------------------

class BookingNotFound(NotFound):
    pass


class UnknownResource(Invalid):
    """No pet has the booking's resource_id."""


class SlotTaken(Conflict):
    """Another live booking of the same pet intersects the window."""


# --- API keys and idempotency (issue 17) ----------------------------------------------------

class CredentialNotFound(NotFound):
    pass


class NeedsFullAccess(Forbidden):
    """A credential with scope limits tried to manage the account (here: API keys)."""


class InvalidIdempotencyKey(Invalid):
    pass


class IdempotencyKeyReused(DomainError):
    """The same ``Idempotency-Key`` came with a different request (answered 422)."""


class IdempotencyInFlight(Conflict):
    """The first request with this ``Idempotency-Key`` is still running."""
# --- resource settings and availability (contract sections 6 and 7) -------------------------

class InvalidResourceSettings(Invalid):
    """A resource setting out of its range (unknown timezone or graph, bad duration...)."""


class BookingRuleBroken(Invalid):
    """A booking by someone other than the pet's owner breaks one of the pet's settings."""


class InvalidAvailabilityRequest(Invalid):
    """An availability or findtime request the engine cannot answer; ``errors`` names the
    field."""
# --- notifications --------------------------------------------------------------------------

class WebhookNotFound(NotFound):
    pass


class DeliveryNotFound(NotFound):
    pass


class InvalidWebhookUrl(Invalid):
    """The URL is malformed, not http(s), or (by default) reaches a non-public address."""


class InvalidActionLink(Forbidden):
    """An emailed action link that was altered, made for something else, or has expired."""


class ActionLinkUsed(Conflict):
    """An emailed action link that has already been used once."""


# --- groups and classes ---------------------------------------------------------------------

class InvalidSeat(Invalid):
    """A seat request that names no class, or disagrees with its class's window or pet."""


class ClassFull(Conflict):
    """Every place of the class is taken (seats in tentative, confirmed or paid)."""


class ClassClosed(Conflict):
    """The class is no longer live (completed or cancelled): it takes no more seats."""


class CancelTooLate(Conflict):
    """A customer's cancellation inside the class's min_cancel_time before its start."""
