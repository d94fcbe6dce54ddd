"""The access policy, defined once: who may read and change which object.

Contract section 3: each object belongs to one user. Others get 403, or 404 where the
object's existence must not leak (``HIDDEN_FROM_OTHERS``). A booking concerns two users,
its booker and the owner of the booked pet; which of them may apply an action is the
graph's data (``Transition.actor``), and ``BOOKING_ACTORS`` says who plays each actor role.
Booking visibility is one SQL predicate (:func:`booking_visible_to`), used by lists and by
single reads alike.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..database.models import Booking
from .booking.graphs import ACTORS, BOOKER, BOOKER_OR_OWNER, OWNER, SYSTEM, Transition
from .errors import Forbidden, NotFound

HIDDEN_FROM_OTHERS = {
    "Pet": False,      # pets are public to read; only their owner may change them
    "User": False,     # user records: only the user themself
    "Order": True,     # orders are private to whoever placed them
    "Booking": True,   # bookings: the booker and the pet's owner
}


def require_owner(kind: str, user_id: int, owner_ids: int | None | tuple[int | None, ...],
                  not_found: type[NotFound] = NotFound) -> None:
    """Raise unless ``user_id`` is (one of) the owner(s) of an object of ``kind``."""
    ids = owner_ids if isinstance(owner_ids, tuple) else (owner_ids,)
    if user_id in ids:
        return
    if HIDDEN_FROM_OTHERS[kind]:
        raise not_found(f"{kind} not found")
    raise Forbidden(f"This {kind.lower()} belongs to another user")


def booking_visibility(user_id: int) -> tuple:
    """SQL: the two ways a booking is visible to ``user_id``, (made by them, of their pets);
    a list reads each through its own index (``engine.list_bookings``). The pet's owner is
    the booking's copy of it (``bookings.owner_id``, kept by database triggers)."""
    return Booking.booker_id == user_id, Booking.owner_id == user_id


def booking_visible_to(user_id: int):
    """SQL: bookings that ``user_id`` made or that concern their pets."""
    return sa.or_(*booking_visibility(user_id))


BOOKING_ACTORS = {
    BOOKER: frozenset({BOOKER}),
    OWNER: frozenset({OWNER}),
    BOOKER_OR_OWNER: frozenset({BOOKER, OWNER}),
    SYSTEM: frozenset(),  # no user: the service applies these by itself
}
assert set(BOOKING_ACTORS) == ACTORS, "every actor a graph may name needs a rule here"
ACTOR_WORDS = {BOOKER: "the booker", OWNER: "the pet's owner",
               BOOKER_OR_OWNER: "the booker or the pet's owner", SYSTEM: "the service"}


def booking_roles(user_id: int | None, booker_id: int | None,
                  owner_id: int | None) -> frozenset[str]:
    """The roles ``user_id`` plays in a booking: booker, owner, both or none."""
    return frozenset(role for role, ident in ((BOOKER, booker_id), (OWNER, owner_id))
                     if ident is not None and ident == user_id)


def may_act(actor: str, roles: frozenset[str]) -> bool:
    """Whether someone playing ``roles`` may perform a transition done by ``actor``."""
    return bool(BOOKING_ACTORS[actor] & roles)


def require_booking_actor(transition: Transition, roles: frozenset[str]) -> None:
    """Forbidden unless ``roles`` include the transition's actor (visibility comes first)."""
    if not may_act(transition.actor, roles):
        raise Forbidden(f"Only {ACTOR_WORDS[transition.actor]} may apply action "
                        f"'{transition.action}'")
