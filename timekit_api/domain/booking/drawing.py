"""Draw booking graphs with Graphviz, straight from their definitions."""

from __future__ import annotations

import shutil
import subprocess

from .graphs import LIVE_STATES, Graph

FORMATS = ("png", "svg", "dot")

MIMETYPES = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "dot": "text/vnd.graphviz; charset=utf-8",
}

# Seconds to let `dot` run; these graphs take milliseconds, so a hang is a bug.
RENDER_TIMEOUT = 10

_MISSING_MESSAGE = (
    "Graphviz is not installed: install the 'graphviz' package "
    "(apt-get install graphviz) to draw PNG and SVG diagrams; "
    "format=dot works without it"
)

# Rendered PNG/SVG per (graph, fmt): definitions never change at runtime.
# Only successes are stored, so installing Graphviz later takes effect.
_cache: dict[tuple[Graph, str], tuple[bytes, str]] = {}


class GraphvizMissing(Exception):
    """The Graphviz `dot` program is needed but not installed."""

    def __init__(self, message: str = _MISSING_MESSAGE) -> None:
        self.message = message
        super().__init__(message)


class GraphvizError(RuntimeError):
    """`dot` failed or timed out."""


def _quote(text: str) -> str:
    """A DOT double-quoted string; escaping backslashes keeps labels literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _attrs(**attrs: str) -> str:
    return "[" + ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items()) + "]"


def _node_style(graph: Graph, state: str) -> dict[str, str]:
    if state == graph.initial_state:
        return {"shape": "circle", "style": "filled,bold", "fillcolor": "#d9d9d9"}
    if graph.is_final(state):
        return {"shape": "doublecircle", "style": "filled", "fillcolor": "#f4cccc"}
    if state in LIVE_STATES:
        return {"shape": "circle", "style": "filled", "fillcolor": "#d9ead3"}
    return {"shape": "circle"}


def to_dot(graph: Graph) -> str:
    """A deterministic Graphviz digraph of ``graph``: states in order, edges labelled."""
    lines = [
        f"digraph {_quote(graph.name)} {{",
        f"  graph {_attrs(rankdir='LR', label=graph.name, labelloc='t', fontname='Helvetica')};",
        f"  node {_attrs(fontname='Helvetica', fontsize='11')};",
        f"  edge {_attrs(fontname='Helvetica', fontsize='10')};",
    ]
    for state in graph.states:
        lines.append(f"  {_quote(state)} {_attrs(**_node_style(graph, state))};")
    for t in graph.transitions:
        # The actor goes in the tooltip (shown in SVG) to keep the picture uncluttered.
        attrs = {"label": t.action, "tooltip": f"{t.action} (by {t.actor})"}
        if t.auto is not None:  # automatic transitions are dashed, with their delay
            attrs.update(style="dashed",
                         label=f"{t.action}\n(auto: {t.auto.delay} after {t.auto.after})")
        lines.append(f"  {_quote(t.source)} -> {_quote(t.target)} {_attrs(**attrs)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(graph: Graph, fmt: str) -> tuple[bytes, str]:
    """``(content, mimetype)`` of ``graph`` drawn as png, svg or dot.

    "dot" needs no program; png and svg run Graphviz's `dot` and raise
    GraphvizMissing when it is not installed.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "dot":
        return to_dot(graph).encode("utf-8"), MIMETYPES["dot"]

    key = (graph, fmt)
    if key in _cache:
        return _cache[key]

    # Looked up on every uncached call so a later install (or a test) is seen.
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing()
    try:
        result = subprocess.run(
            [program, f"-T{fmt}"],
            input=to_dot(graph).encode("utf-8"),
            capture_output=True,
            timeout=RENDER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GraphvizError(f"dot timed out after {RENDER_TIMEOUT}s") from exc
    except OSError as exc:  # found by which() but not runnable
        raise GraphvizMissing() from exc
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        raise GraphvizError(f"dot exited with status {result.returncode}: {stderr}")

    _cache[key] = (result.stdout, MIMETYPES[fmt])
    return _cache[key]


def clear_cache() -> None:
    """Forget rendered diagrams (for tests)."""
    _cache.clear()
