"""Booking graphs: Timekit's booking state machines, defined once as data.

A graph's definition (its transitions) is the single source of truth for
validating actions, a booking's ``available_actions``, the JSON
representation and the Graphviz drawing. Adding a graph means adding a
definition to :data:`GRAPHS`, not writing code.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from ...settings import SETTINGS
from ..errors import Conflict, Invalid
from .durations import Duration, InvalidDuration, parse_duration

INITIAL_STATE = "initialized"
SETTINGS_DEFAULTS = {name: default for name, (default, _) in SETTINGS.items()}

# Who may perform a transition.
BOOKER = "booker"
OWNER = "owner"
BOOKER_OR_OWNER = "booker_or_owner"
SYSTEM = "system"  # the service itself: automatic transitions
ACTORS = frozenset({BOOKER, OWNER, BOOKER_OR_OWNER, SYSTEM})

# Bookings in these states block overlapping bookings of the same resource.
LIVE_STATES = frozenset({"tentative", "confirmed", "paid"})

# When an automatic transition's delay starts: when the booking entered its state, or
# at the booking's end.
AFTER_ENTERED = "entered"
AFTER_END = "end"
AUTO_AFTER = (AFTER_ENTERED, AFTER_END)

# What a graph's bookings are (contract section 6): an ordinary booking of the pet's time,
# a class (holds the pet's time, has seats) or a seat in a class (does not block the pet).
SINGLE = "single"
CLASS = "class"
SEAT = "seat"
KINDS = frozenset({SINGLE, CLASS, SEAT})
# A seat in one of these states takes a place in its class. `paid` is live once the time
# issue's `instant_payment` lands (issue 13 adds it to LIVE_STATES; this then equals it).
SEAT_HOLDING_STATES = LIVE_STATES | {"paid"}


class InvalidGraph(ValueError):
    """A graph definition is inconsistent (raised when it is constructed)."""


class IllegalTransition(Conflict):
    """An action that the graph does not allow from the booking's state."""

    def __init__(self, graph: Graph, state: str, action: str) -> None:
        self.graph = graph
        self.state = state
        self.action = action
        self.allowed = graph.available_actions(state)
        # Timekit's own wording, relied on by API clients.
        super().__init__(f"Cannot apply action '{action}' to current state '{state}'",
                         errors={"available_actions": self.allowed})

    def __str__(self) -> str:
        return self.message


class UnknownAction(Invalid):
    """An action name the booking's graph does not have at all (400, not 409)."""

    def __init__(self, graph: Graph, action: str) -> None:
        super().__init__(f"Unknown action '{action}'; graph '{graph.name}' has: "
                         f"{', '.join(graph.actions)}", errors={"actions": list(graph.actions)})


@dataclass(frozen=True)
class Auto:
    """When the service applies a transition by itself: ``delay`` after the booking
    ``after`` (entered its state, or its end). ``delay`` is a duration ("5 minutes") or the
    name of the setting holding one (``PAYMENT_TIMEOUT``)."""

    after: str
    delay: str

    def duration(self, settings: Mapping = SETTINGS_DEFAULTS) -> Duration:
        """The delay as a Duration, read from ``settings`` when it names a setting."""
        if self.delay in SETTINGS:
            return parse_duration(settings.get(self.delay, SETTINGS_DEFAULTS[self.delay]))
        return parse_duration(self.delay)


@dataclass(frozen=True)
class Transition:
    """Applying ``action`` in state ``source`` moves to ``target``; done by ``actor``
    (``system``: automatically, as ``auto`` says). ``requires`` names the details the
    action's body must give (``payment_id`` for ``pay``)."""

    action: str
    source: str
    target: str
    actor: str
    auto: Auto | None = None
    # Body fields the action needs (`pay` needs {"pay": {"payment_id": "..."}}).
    requires: tuple[str, ...] = ()
    # A class's transition that also moves every seat holding a place, by this seat action
    # (cancelling a class cancels its seats, each with its own history record).
    cascade: str | None = None
    # A seat's transition refused inside the class's `min_cancel_time` before its start.
    before_cancel_deadline: bool = False


@dataclass(frozen=True)
class Graph:
    """A named booking state machine; validated as soon as it is built."""

    name: str
    description: str
    entry_action: str
    transitions: tuple[Transition, ...]
    # Whether live bookings may be moved (POST /bookings/{id}/reschedule), and the state a
    # booking moved by its booker goes back to, per state (confirmed -> tentative).
    reschedulable: bool = False
    rescheduled_by_booker: Mapping[str, str] = dataclasses.field(
        default_factory=dict, hash=False, compare=False)
    kind: str = SINGLE

    @property
    def holds_time(self) -> bool:
        """Whether a live booking of this graph blocks the pet's time (seats do not)."""
        return self.kind != SEAT

    def __post_init__(self) -> None:
        # Accept any iterable but store a tuple so the graph stays hashable.
        object.__setattr__(self, "transitions", tuple(self.transitions))
        _validate(self)

    @property
    def initial_state(self) -> str:
        return INITIAL_STATE

    @cached_property
    def states(self) -> tuple[str, ...]:
        """Initial state first, then states in order of first appearance."""
        seen = {INITIAL_STATE: None}
        for t in self.transitions:
            seen.setdefault(t.source, None)
            seen.setdefault(t.target, None)
        return tuple(seen)

    @cached_property
    def final_states(self) -> frozenset[str]:
        """States with no outgoing transitions."""
        sources = {t.source for t in self.transitions}
        return frozenset(s for s in self.states if s not in sources)

    @cached_property
    def actions(self) -> tuple[str, ...]:
        """Distinct action names, in definition order."""
        return tuple(dict.fromkeys(t.action for t in self.transitions))

    @cached_property
    def _index(self) -> dict[tuple[str, str], Transition]:
        return {(t.source, t.action): t for t in self.transitions}

    @cached_property
    def _automatic(self) -> dict[str, Transition]:
        return {t.source: t for t in self.transitions if t.auto is not None}

    def automatic(self, state: str) -> Transition | None:
        """The automatic transition pending in ``state``, if any (at most one)."""
        return self._automatic.get(state)

    def available_actions(self, state: str) -> list[str]:
        """Actions allowed from ``state`` in definition order (empty if final/unknown)."""
        return [t.action for t in self.transitions if t.source == state]

    def transition(self, state: str, action: str) -> Transition:
        """The transition for ``action`` from ``state``, or raise IllegalTransition."""
        try:
            return self._index[(state, action)]
        except KeyError:
            raise IllegalTransition(self, state, action) from None

    def is_final(self, state: str) -> bool:
        return state in self.final_states

    @property
    def ordered_final_states(self) -> list[str]:
        """Final states in the order of :attr:`states` (for the JSON and the drawing)."""
        return [s for s in self.states if s in self.final_states]


def _validate(graph: Graph) -> None:
    """Reject broken definitions loudly, so a typo fails at import time."""

    def fail(reason: str) -> None:
        raise InvalidGraph(f"booking graph {graph.name!r}: {reason}")

    if not graph.name:
        fail("name must not be empty")
    if not graph.transitions:
        fail("has no transitions")
    if graph.kind not in KINDS:
        fail(f"unknown kind {graph.kind!r} (expected one of {sorted(KINDS)})")
    seen: set[tuple[str, str]] = set()
    for t in graph.transitions:
        if not isinstance(t, Transition):
            fail(f"{t!r} is not a Transition")
        if not (t.action and t.source and t.target):
            fail(f"{t!r} has an empty action or state")
        if t.actor not in ACTORS:
            fail(f"{t!r} has unknown actor {t.actor!r} (expected one of {sorted(ACTORS)})")
        if t.target == INITIAL_STATE:
            fail(f"{t!r} leads back to {INITIAL_STATE!r}")
        if t.cascade and graph.kind != CLASS:
            fail(f"{t!r} cascades, but only a class has seats")
        if t.before_cancel_deadline and graph.kind != SEAT:
            fail(f"{t!r} keeps a class's cancel deadline, but only seats have one")
        if (t.source, t.action) in seen:
            fail(f"action {t.action!r} is defined twice from state {t.source!r}")
        seen.add((t.source, t.action))
        if t.actor == SYSTEM and t.auto is None:
            fail(f"{t!r}: actor {SYSTEM!r} needs `auto` (when the service applies it)")
        if t.auto is not None:
            if t.auto.after not in AUTO_AFTER:
                fail(f"{t!r}: auto.after must be one of {AUTO_AFTER}")
            if t.auto.delay in SETTINGS:
                if not isinstance(SETTINGS_DEFAULTS[t.auto.delay], str):
                    fail(f"{t!r}: setting {t.auto.delay!r} is not a duration")
            try:
                t.auto.duration()
            except InvalidDuration as error:
                fail(f"{t!r}: bad delay: {error}")
            if t.source == INITIAL_STATE:
                fail(f"{t!r}: a booking is not automatic before its entry action")
    automatic = [t.source for t in graph.transitions if t.auto is not None]
    if len(automatic) != len(set(automatic)):
        fail("a state has more than one automatic transition")
    # A due booking reads as its automatic transition's target (engine.effective_state):
    # one step, so that target may not be automatic in turn.
    for t in graph.transitions:
        if t.auto is not None and t.target in automatic:
            fail(f"{t!r} leads to a state with an automatic transition of its own")
    for source, target in graph.rescheduled_by_booker.items():
        if source not in graph.states or target not in graph.states:
            fail(f"rescheduled_by_booker names unknown states {source!r} -> {target!r}")

    # Bookings are created by the entry action, and only by it.
    leaving = graph.available_actions(INITIAL_STATE)
    if leaving != [graph.entry_action]:
        fail(
            f"entry action {graph.entry_action!r} must be the only action leaving "
            f"{INITIAL_STATE!r} (found {leaving})"
        )

    # Every state must be reachable from the initial state.
    reached, queue = {INITIAL_STATE}, deque([INITIAL_STATE])
    while queue:
        state = queue.popleft()
        for t in graph.transitions:
            if t.source == state and t.target not in reached:
                reached.add(t.target)
                queue.append(t.target)
    unreachable = [s for s in graph.states if s not in reached]
    if unreachable:
        fail(f"states {unreachable} are unreachable from {INITIAL_STATE!r}")


# Every live booking is completed by the service AUTO_COMPLETE_AFTER after its end,
# unless its owner completes it first.
AUTO_COMPLETE = Auto(after=AFTER_END, delay="AUTO_COMPLETE_AFTER")

# Paying is the same in every payment graph: held (tentative) until paid, or until the
# service times it out PAYMENT_TIMEOUT after it entered tentative.
_PAYING = (
    Transition("create", INITIAL_STATE, "tentative", BOOKER),
    Transition("pay", "tentative", "paid", BOOKER_OR_OWNER, requires=("payment_id",)),
    Transition("timeout", "tentative", "unpaid", SYSTEM,
               auto=Auto(after=AFTER_ENTERED, delay="PAYMENT_TIMEOUT")),
)

# Leaving a confirmed booking is the same in every graph.
_FROM_CONFIRMED = (
    Transition("cancel", "confirmed", "cancelled", BOOKER_OR_OWNER),
    Transition("cancel_by_customer", "confirmed", "cancelled_by_customer", BOOKER_OR_OWNER),
    Transition("complete", "confirmed", "completed", OWNER, auto=AUTO_COMPLETE),
)

GRAPHS: dict[str, Graph] = {
    g.name: g
    for g in (
        Graph(
            name="instant",
            description="Bookings are confirmed as soon as they are created.",
            entry_action="confirm",
            transitions=(
                Transition("confirm", INITIAL_STATE, "confirmed", BOOKER),
                *_FROM_CONFIRMED,
            ),
            reschedulable=True,
        ),
        Graph(
            name="confirm_decline",
            description=(
                "Bookings start tentative until the resource owner confirms or declines them."
            ),
            entry_action="create",
            transitions=(
                Transition("create", INITIAL_STATE, "tentative", BOOKER),
                Transition("confirm", "tentative", "confirmed", OWNER),
                Transition("decline", "tentative", "declined", OWNER),
                Transition("cancel", "tentative", "cancelled", BOOKER_OR_OWNER),
                *_FROM_CONFIRMED,
            ),
            reschedulable=True,
            rescheduled_by_booker={"confirmed": "tentative"},
        ),
        Graph(
            name="instant_payment",
            description=(
                "Bookings hold their slot while the booker pays; unpaid after "
                "PAYMENT_TIMEOUT, they time out and free it."
            ),
            entry_action="create",
            transitions=(
                *_PAYING,
                Transition("cancel", "paid", "cancelled", BOOKER_OR_OWNER),
                Transition("complete", "paid", "completed", OWNER, auto=AUTO_COMPLETE),
            ),
            reschedulable=True,
        ),
        # --- groups and classes (contract section 6) ---------------------------------------
        Graph(
            name="group_owner",
            description=(
                "A class: the pet's owner offers max_seats places; it holds the pet's time."
            ),
            entry_action="create",
            kind=CLASS,
            transitions=(
                Transition("create", INITIAL_STATE, "tentative", OWNER),
                Transition("complete", "tentative", "completed", OWNER, auto=AUTO_COMPLETE),
                Transition("cancel", "tentative", "cancelled", OWNER,
                           cascade="cancel_by_owner"),
            ),
        ),
        Graph(
            name="group_customer",
            description="A seat in a class, confirmed as soon as it is created.",
            entry_action="create",
            kind=SEAT,
            transitions=(
                Transition("create", INITIAL_STATE, "confirmed", BOOKER),
                Transition("complete", "confirmed", "completed", OWNER, auto=AUTO_COMPLETE),
                Transition("cancel_by_customer", "confirmed", "cancelled_by_customer", BOOKER,
                           before_cancel_deadline=True),
                Transition("cancel_by_owner", "confirmed", "cancelled_by_owner", OWNER),
            ),
        ),
        Graph(
            name="group_customer_payment",
            description="A seat in a class, held (tentative) until it is paid.",
            entry_action="create",
            kind=SEAT,
            transitions=(
                *_PAYING,
                # The owner may let a held place go, and cancelling the class does so.
                Transition("cancel_by_owner", "tentative", "cancelled_by_owner", OWNER),
                Transition("complete", "paid", "completed", OWNER, auto=AUTO_COMPLETE),
                Transition("cancel_by_customer", "paid", "cancelled_by_customer", BOOKER,
                           before_cancel_deadline=True),
                Transition("cancel_by_owner", "paid", "cancelled_by_owner", OWNER),
            ),
        ),
    )
}


def with_delays(graph: Graph, settings: Mapping) -> Graph:
    """``graph`` with each automatic delay written as the duration ``settings`` give it
    ("5 minutes" for ``PAYMENT_TIMEOUT``): what the graph JSON and the drawing show."""
    return dataclasses.replace(graph, transitions=tuple(
        t if t.auto is None else dataclasses.replace(
            t, auto=Auto(t.auto.after, str(t.auto.duration(settings))))
        for t in graph.transitions))


def graphs_with_delays(settings: Mapping) -> dict[str, Graph]:
    """Every graph as :func:`with_delays` shows it."""
    return {name: with_delays(graph, settings) for name, graph in GRAPHS.items()}


def check_delays(settings: Mapping) -> None:
    """InvalidGraph unless every delay setting the graphs name is a valid duration (run
    when an app is built, so a typo in PAYMENT_TIMEOUT fails at start, not at noon)."""
    for graph in GRAPHS.values():
        for t in graph.transitions:
            if t.auto is not None:
                try:
                    t.auto.duration(settings)
                except InvalidDuration as error:
                    raise InvalidGraph(f"setting {t.auto.delay}: {error}") from None

def _validate_cascades(graphs: dict[str, Graph]) -> None:
    """A class's cascade must be possible from every state in which a seat holds a place."""
    seats = [g for g in graphs.values() if g.kind == SEAT]
    for graph in graphs.values():
        for cascade in {t.cascade for t in graph.transitions if t.cascade}:
            for seat in seats:
                for state in sorted(SEAT_HOLDING_STATES & set(seat.states)):
                    if cascade not in seat.available_actions(state):
                        raise InvalidGraph(f"booking graph {graph.name!r} cascades "
                                           f"{cascade!r}, which {seat.name!r} lacks from "
                                           f"{state!r}")


_validate_cascades(GRAPHS)
CLASS_GRAPHS = frozenset(g.name for g in GRAPHS.values() if g.kind == CLASS)
SEAT_GRAPHS = frozenset(g.name for g in GRAPHS.values() if g.kind == SEAT)
TIME_HOLDING_GRAPHS = frozenset(g.name for g in GRAPHS.values() if g.holds_time)


def get_graph(name: str) -> Graph:
    """The graph called ``name``; KeyError if there is none."""
    try:
        return GRAPHS[name]
    except KeyError:
        raise KeyError(f"unknown booking graph {name!r}") from None
