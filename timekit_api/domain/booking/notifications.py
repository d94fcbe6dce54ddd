"""Which states of which graph notify whom: data beside the graph definitions (``graphs.py``).

The outbox writer (``domain/notifications/outbox.py``) reads it for every transition, and the
graph JSON shows it (``GraphSchema.notifications``). A rule says: when a booking of the graph
enters state ``on``, email each listed side (``owner``: the pet's owner, ``customer``: the
booking's customer) with the ``template`` email kind, and fire the webhooks subscribed to that
state. ``not_to_actor`` leaves out the side that applied the action itself (a cancellation
goes "to the other side", contract section 8). ``cascaded_template`` is the email a booking
gets when it entered the state because its class was cancelled (a seat's ``cancel_by_owner``
applied by the class's ``cancel``), rather than by an action on the booking itself.
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
    cascaded_template: str | None = None

    def template_for(self, cascaded: bool) -> str | None:
        return self.cascaded_template if cascaded and self.cascaded_template else self.template


def _cancellations(*states: str) -> tuple[Notify, ...]:
    return tuple(Notify(state, (OWNER, CUSTOMER), "booking_cancelled", not_to_actor=True)
                 for state in states)


_REQUESTED = Notify("tentative", (OWNER,), "booking_request_owner")
_CONFIRMED = Notify("confirmed", (CUSTOMER,), "booking_confirmed_customer")
_PAID = Notify("paid", (CUSTOMER,), "booking_confirmed_customer")  # paid is the confirmation
_TIMED_OUT = Notify("unpaid", (CUSTOMER,), "payment_timeout_customer")
_COMPLETED = Notify("completed")
# A seat cancelled by the owner: its customer hears of it, as a class cancellation when the
# whole class went (the cascade), otherwise as a cancellation of that one seat.
_SEAT_CANCELLED_BY_OWNER = Notify("cancelled_by_owner", (CUSTOMER,), "booking_cancelled",
                                  not_to_actor=True,
                                  cascaded_template="class_cancelled_customer")
_SEAT_CANCELLED_BY_CUSTOMER = Notify("cancelled_by_customer", (OWNER,), "booking_cancelled",
                                     not_to_actor=True)

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
    "instant_payment": (
        Notify("tentative"),  # the booker is paying: webhooks only
        _PAID,
        _TIMED_OUT,
        *_cancellations("cancelled"),
        _COMPLETED,
    ),
    # A class is the owner's own booking: its seats' customers are told, per seat.
    "group_owner": (
        Notify("tentative"),
        Notify("cancelled"),
        _COMPLETED,
    ),
    "group_customer": (
        _CONFIRMED,
        _SEAT_CANCELLED_BY_CUSTOMER,
        _SEAT_CANCELLED_BY_OWNER,
        _COMPLETED,
    ),
    "group_customer_payment": (
        Notify("tentative"),
        _PAID,
        _TIMED_OUT,
        _SEAT_CANCELLED_BY_CUSTOMER,
        _SEAT_CANCELLED_BY_OWNER,
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
            if set(rule.email) - RECIPIENTS or (rule.email and not rule.template) or (
                    rule.cascaded_template and not rule.email):
                raise InvalidGraph(f"notification {rule!r} of graph {name!r} is invalid")
            index[(name, rule.on)] = index.get((name, rule.on), ()) + (rule,)
    return index


_BY_STATE = _validate()
