"""One access-log line per request on logger ``timekit_api.access``.

The line holds method, path, status, duration and request id, and never the query string
(``GET /user/login`` carries the password there) nor any header (credentials live there).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, request

access_log = logging.getLogger("timekit_api.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def escape_controls(text: str) -> str:
    """Control characters (CR, LF...) and backslashes as ``\\xNN`` escapes: a request path
    such as ``/v2/pet/%0d%0a...`` cannot forge a second log line."""
    return CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def init_app(app: Flask) -> None:
    if not app.config["ACCESS_LOG"]:
        return
    as_json = app.config["ACCESS_LOG_JSON"]

    @app.before_request
    def start_timer():
        g.request_started = time.perf_counter()
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def log_request(response):
        request_id = g.get("request_id")
        if request_id is None:  # failed before before_request ran
            return response
        response.headers["X-Request-Id"] = request_id
        if access_log.isEnabledFor(logging.INFO):
            fields = {
                "method": request.method,
                # The path as the client sent it (mount prefix included), never the query string.
                "path": escape_controls(request.script_root + request.path),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 2),
                "request_id": request_id,
            }
            if as_json:
                access_log.info(json.dumps(fields))
            else:
                access_log.info("%(method)s %(path)s %(status)s %(duration_ms)sms "
                                "id=%(request_id)s", fields)
        return response


def configure_default_logging(level: int = logging.INFO) -> None:
    """Send INFO and above to stderr, unless logging is configured already.

    For the processes we start ourselves (``wsgi.py``, ``timekit-api serve``): without it the
    access log would go nowhere. Configure logging before importing ``wsgi`` to choose
    handlers and formats yourself (``logging.config.dictConfig``).
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
