"""Booking graphs: transitions, validation, JSON and Graphviz drawing."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from helpers import GROUP_TRANSITIONS, LEGAL_TRANSITIONS
from timekit_api.domain.booking import drawing
from timekit_api.domain.booking.drawing import (
    FORMATS,
    GraphvizError,
    GraphvizMissing,
    render,
    to_dot,
)
from timekit_api.domain.booking.graphs import (
    GRAPHS,
    LIVE_STATES,
    Graph,
    IllegalTransition,
    InvalidGraph,
    Transition,
    get_graph,
)
from timekit_api.domain.booking.schemas import GraphSchema

HAVE_DOT = shutil.which("dot") is not None

AVAILABLE = {
    "instant": {
        "initialized": ["confirm"],
        "confirmed": ["cancel", "cancel_by_customer", "complete"],
        "cancelled": [],
        "cancelled_by_customer": [],
        "completed": [],
    },
    "confirm_decline": {
        "initialized": ["create"],
        "tentative": ["confirm", "decline", "cancel"],
        "confirmed": ["cancel", "cancel_by_customer", "complete"],
        "declined": [],
        "cancelled": [],
        "cancelled_by_customer": [],
        "completed": [],
    },
}

ILLEGAL = [
    ("confirm_decline", "initialized", "confirm"),
    ("confirm_decline", "initialized", "cancel"),
    ("confirm_decline", "tentative", "complete"),
    ("confirm_decline", "tentative", "create"),
    ("confirm_decline", "confirmed", "decline"),
    ("confirm_decline", "confirmed", "confirm"),
    ("confirm_decline", "declined", "confirm"),
    ("confirm_decline", "cancelled", "cancel"),
    ("confirm_decline", "completed", "cancel"),
    ("instant", "initialized", "create"),
    ("instant", "initialized", "complete"),
    ("instant", "confirmed", "confirm"),
    ("instant", "confirmed", "decline"),
    ("instant", "cancelled_by_customer", "cancel"),
    ("instant", "completed", "complete"),
    ("instant", "tentative", "confirm"),  # a state this graph does not have
    ("instant", "confirmed", "no_such_action"),
]


@pytest.fixture(autouse=True)
def fresh_render_cache():
    drawing.clear_cache()
    yield
    drawing.clear_cache()


def test_graphs_registry():
    assert list(GRAPHS) == ["instant", "confirm_decline", "instant_payment", "group_owner",
                            "group_customer", "group_customer_payment"]
    assert get_graph("instant") is GRAPHS["instant"]
    with pytest.raises(KeyError):
        get_graph("nope")
    assert LIVE_STATES == frozenset({"tentative", "confirmed", "paid"})


@pytest.mark.parametrize(("graph", "state", "action"),
                         sorted({**LEGAL_TRANSITIONS, **GROUP_TRANSITIONS}))
def test_legal_transition(graph, state, action):
    t = get_graph(graph).transition(state, action)
    assert (t.action, t.source) == (action, state)
    assert (t.target, t.actor) == {**LEGAL_TRANSITIONS, **GROUP_TRANSITIONS}[
        (graph, state, action)]


def test_legal_table_covers_every_definition():
    defined = {(g.name, t.source, t.action) for g in GRAPHS.values() for t in g.transitions}
    assert defined == set(LEGAL_TRANSITIONS) | set(GROUP_TRANSITIONS)


@pytest.mark.parametrize(("graph", "state", "action"), ILLEGAL)
def test_illegal_transition(graph, state, action):
    g = get_graph(graph)
    with pytest.raises(IllegalTransition) as info:
        g.transition(state, action)
    exc = info.value
    expected = f"Cannot apply action '{action}' to current state '{state}'"
    assert str(exc) == exc.message == expected
    assert (exc.action, exc.state) == (action, state)
    assert exc.allowed == AVAILABLE[graph].get(state, [])


def test_illegal_message_matches_timekit():
    with pytest.raises(IllegalTransition, match=r"^Cannot apply action 'confirm' to current "
                       r"state 'initialized'$"):
        get_graph("confirm_decline").transition("initialized", "confirm")


@pytest.mark.parametrize("graph", AVAILABLE)
def test_states_and_available_actions(graph):
    g = get_graph(graph)
    assert g.initial_state == "initialized"
    assert g.states[0] == "initialized"
    assert set(g.states) == set(AVAILABLE[graph])
    for state, actions in AVAILABLE[graph].items():
        assert g.available_actions(state) == actions


def test_final_states():
    assert GRAPHS["instant"].final_states == {"cancelled", "cancelled_by_customer", "completed"}
    assert GRAPHS["confirm_decline"].final_states == {
        "cancelled",
        "cancelled_by_customer",
        "completed",
        "declined",
    }
    g = GRAPHS["confirm_decline"]
    assert g.is_final("declined") and not g.is_final("tentative")
    assert not g.is_final("initialized")


def test_states_order_is_stable():
    assert GRAPHS["confirm_decline"].states == (
        "initialized",
        "tentative",
        "confirmed",
        "declined",
        "cancelled",
        "cancelled_by_customer",
        "completed",
    )


def test_to_json_shape():
    data = GraphSchema().dump(GRAPHS["confirm_decline"])
    assert set(data) == {
        "name",
        "description",
        "initial_state",
        "entry_action",
        "states",
        "final_states",
        "actions",
        "transitions",
        "notifications",
    }
    assert data["name"] == "confirm_decline"
    assert data["description"]
    assert data["initial_state"] == "initialized"
    assert data["entry_action"] == "create"
    assert data["states"] == list(GRAPHS["confirm_decline"].states)
    assert data["final_states"] == ["declined", "cancelled", "cancelled_by_customer", "completed"]
    assert data["actions"] == ["create", "confirm", "decline", "cancel", "cancel_by_customer",
                               "complete"]
    assert data["transitions"][1] == {
        "action": "confirm",
        "from": "tentative",
        "to": "confirmed",
        "actor": "owner",
    }
    assert len(data["transitions"]) == 7
    assert GraphSchema().dump(GRAPHS["instant"])["entry_action"] == "confirm"


GOOD = (
    Transition("confirm", "initialized", "confirmed", "booker"),
    Transition("cancel", "confirmed", "cancelled", "booker_or_owner"),
)


def test_valid_custom_graph_is_accepted():
    g = Graph("mini", "", "confirm", GOOD)
    assert g.final_states == {"cancelled"}


@pytest.mark.parametrize(
    ("entry", "transitions", "reason"),
    [
        # entry action does not leave initialized
        ("create", GOOD, "entry action"),
        # a second action leaving initialized
        ("confirm", (*GOOD, Transition("x", "initialized", "cancelled", "booker")),
         "entry action"),
        # unreachable state
        ("confirm", (*GOOD, Transition("decline", "tentative", "declined", "owner")),
         "unreachable"),
        # unknown actor
        ("confirm", (*GOOD, Transition("complete", "confirmed", "completed", "admin")), "actor"),
        # same action twice from one state
        ("confirm", (*GOOD, Transition("cancel", "confirmed", "completed", "owner")), "twice"),
        # back to the initial state
        ("confirm", (*GOOD, Transition("reset", "confirmed", "initialized", "owner")),
         "leads back"),
        ("confirm", (), "no transitions"),
    ],
)
def test_broken_definition_is_rejected(entry, transitions, reason):
    with pytest.raises(InvalidGraph, match=reason):
        Graph("broken", "", entry, transitions)


@pytest.mark.parametrize("graph", list(GRAPHS.values()), ids=list(GRAPHS))
def test_to_dot_has_every_state_and_edge(graph):
    dot = to_dot(graph)
    assert dot.startswith(f'digraph "{graph.name}" {{') and dot.rstrip().endswith("}")
    for state in graph.states:
        assert f'"{state}" [' in dot
    for t in graph.transitions:
        assert f'"{t.source}" -> "{t.target}" [label="{t.action}' in dot
    # final states drawn distinctly, and output is deterministic
    assert dot.count('shape="doublecircle"') == len(graph.final_states)
    assert to_dot(graph) == dot


def test_to_dot_quotes_identifiers():
    g = Graph("we\"ird\\name", "", "go", (Transition("go", "initialized", 'a "b"', "booker"),))
    dot = to_dot(g)
    assert 'digraph "we\\"ird\\\\name" {' in dot
    assert '"a \\"b\\"" [' in dot


def test_render_dot_without_graphviz(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    content, mimetype = render(GRAPHS["instant"], "dot")
    assert content == to_dot(GRAPHS["instant"]).encode("utf-8")
    assert mimetype == "text/vnd.graphviz; charset=utf-8"


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_render_image_without_graphviz(monkeypatch, fmt):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render(GRAPHS["instant"], fmt)


def test_render_unknown_format():
    assert FORMATS == ("png", "svg", "dot")
    with pytest.raises(ValueError):
        render(GRAPHS["instant"], "gif")


def test_render_runs_dot_safely_and_caches(monkeypatch):
    calls = []

    def fake_run(args, **kwargs):
        calls.append((args, kwargs))
        return subprocess.CompletedProcess(args, 0, stdout=b"<svg/>", stderr=b"")

    monkeypatch.setattr(shutil, "which", lambda name: "/opt/bin/dot")
    monkeypatch.setattr(subprocess, "run", fake_run)
    g = GRAPHS["confirm_decline"]
    assert render(g, "svg") == (b"<svg/>", "image/svg+xml")
    assert render(g, "svg") == (b"<svg/>", "image/svg+xml")
    assert len(calls) == 1  # second call served from the cache
    args, kwargs = calls[0]
    assert args == ["/opt/bin/dot", "-Tsvg"]
    assert not kwargs.get("shell")
    assert kwargs["timeout"] > 0
    assert kwargs["input"] == to_dot(g).encode("utf-8")


def test_missing_graphviz_is_not_cached(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissing):
        render(GRAPHS["instant"], "png")
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/bin/dot")
    monkeypatch.setattr(
        subprocess, "run", lambda args, **kw: subprocess.CompletedProcess(args, 0, b"PNG", b"")
    )
    assert render(GRAPHS["instant"], "png") == (b"PNG", "image/png")


def test_render_reports_dot_failure(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/bin/dot")
    monkeypatch.setattr(
        subprocess, "run", lambda args, **kw: subprocess.CompletedProcess(args, 1, b"", b"boom")
    )
    with pytest.raises(GraphvizError, match="boom"):
        render(GRAPHS["instant"], "png")

    def timeout(args, **kw):
        raise subprocess.TimeoutExpired(args, kw["timeout"])

    monkeypatch.setattr(subprocess, "run", timeout)
    with pytest.raises(GraphvizError, match="timed out"):
        render(GRAPHS["instant"], "png")


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` is not installed")
@pytest.mark.parametrize("graph", list(GRAPHS.values()), ids=list(GRAPHS))
def test_render_png_with_graphviz(graph):
    content, mimetype = render(graph, "png")
    assert mimetype == "image/png"
    assert content.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` is not installed")
@pytest.mark.parametrize("graph", list(GRAPHS.values()), ids=list(GRAPHS))
def test_render_svg_with_graphviz(graph):
    content, mimetype = render(graph, "svg")
    assert mimetype == "image/svg+xml"
    svg = content.decode("utf-8")
    assert "<svg" in svg
    for state in graph.states:
        assert state in svg
    for action in graph.actions:
        assert action in svg
