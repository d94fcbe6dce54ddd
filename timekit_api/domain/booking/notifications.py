"""Which states of which graph notify whom: data beside the graph definitions (``graphs.py``).

The outbox writer (``domain/notifications/outbox.py``) reads it for every transition, and the
graph JSON shows it (``GraphSchema.notifications``). A rule says: when a booking of the graph
enters state ``on``, email each listed side (``owner``: the pet's owner, ``customer``: the
booking's customer) with the ``template`` email kind, and fire the webhooks subscribed to that
state. ``not_to_actor`` leaves out the side that applied the action itself (a cancellation
goes "to the other side", contract section 8).
"""

from __future__ import annotations

from dataclasses import dataclass

from .graphs import GRAPHS, InvalidGraph

OWNER = "owner"
CUSTOMER = "customer"
RECIPIENTS = frozenset({OWNER, CUSTOMER})


@dataclass(frozen=True)
class Notify:
    on: str
    email: tuple[str, ...] = ()
    template: str | None = None
    webhook: bool = True
    not_to_actor: bool = False


def _cancellations(*states: str) -> tuple[Notify, ...]:
    return tuple(Notify(state, (OWNER, CUSTOMER), "booking_cancelled", not_to_actor=True)
                 for state in states)


_REQUESTED = Notify("tentative", (OWNER,), "booking_request_owner")
_CONFIRMED = Notify("confirmed", (CUSTOMER,), "booking_confirmed_customer")
_COMPLETED = Notify("completed")

NOTIFICATIONS: dict[str, tuple[Notify, ...]] = {
    "instant": (
        _CONFIRMED,
        *_cancellations("cancelled", "cancelled_by_customer"),
        _COMPLETED,
    ),
    "confirm_decline": (
        _REQUESTED,
        _CONFIRMED,
        Notify("declined", (CUSTOMER,), "booking_declined"),
        *_cancellations("cancelled", "cancelled_by_customer"),
        _COMPLETED,
    ),
}


def rules_for(graph: str, state: str) -> tuple[Notify, ...]:
    """The rules that fire when a booking of ``graph`` enters ``state``."""
    return _BY_STATE.get((graph, state), ())


def _validate() -> dict[tuple[str, str], tuple[Notify, ...]]:
    """Refuse a rule naming an unknown graph, state or side, or an email without a template."""
    index: dict[tuple[str, str], tuple[Notify, ...]] = {}
    for name, rules in NOTIFICATIONS.items():
        if name not in GRAPHS:
            raise InvalidGraph(f"notifications name unknown booking graph {name!r}")
        for rule in rules:
            if rule.on not in GRAPHS[name].states:
                raise InvalidGraph(f"booking graph {name!r} has no state {rule.on!r} to "
                                   "notify on")
            if set(rule.email) - RECIPIENTS or (rule.email and not rule.template):
                raise InvalidGraph(f"notification {rule!r} of graph {name!r} is invalid")
            index[(name, rule.on)] = index.get((name, rule.on), ()) + (rule,)
    return index


_BY_STATE = _validate()
