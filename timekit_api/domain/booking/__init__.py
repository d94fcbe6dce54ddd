"""Timekit's booking engine: graphs (state machines) as data, their drawings, and the
bookings that follow them (``engine.py``)."""

from . import engine
from .drawing import FORMATS, GraphvizError, GraphvizMissing, render, to_dot
from .graphs import (
    ACTORS,
    BOOKER,
    BOOKER_OR_OWNER,
    GRAPHS,
    INITIAL_STATE,
    LIVE_STATES,
    OWNER,
    Graph,
    IllegalTransition,
    InvalidGraph,
    Transition,
    get_graph,
)

__all__ = [
    "ACTORS",
    "BOOKER",
    "BOOKER_OR_OWNER",
    "FORMATS",
    "GRAPHS",
    "INITIAL_STATE",
    "LIVE_STATES",
    "OWNER",
    "Graph",
    "GraphvizError",
    "GraphvizMissing",
    "IllegalTransition",
    "InvalidGraph",
    "Transition",
    "engine",
    "get_graph",
    "render",
    "to_dot",
]
