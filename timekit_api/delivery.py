"""The delivery process: sends the outbox's notifications (``timekit-api deliver``).

A loop around ``domain/notifications/outbox.deliver_pending``: claim what is due, send it,
record the outcome; sleep ``DELIVERY_POLL_SECONDS`` when nothing was due. Run one or several
(each claims different rows); kill one at any moment and what it had claimed is sent again by
whichever process runs once its lease (``DELIVERY_LEASE_SECONDS``) ends.
"""

from __future__ import annotations

import logging
import signal
import threading

from flask import Flask

from .database import db
from .domain import clock
from .domain.notifications import actions, outbox

log = logging.getLogger(__name__)


def delivery_settings(app: Flask) -> outbox.DeliverySettings:
    """Read inside an app context: the link key may come from the database."""
    return outbox.DeliverySettings.from_config(
        app.config, app.instance_path, actions.link_secret(app.config["ACTION_LINK_SECRET"]))


def deliver_once(app: Flask, settings: outbox.DeliverySettings | None = None,
                 now=None) -> outbox.Counts:
    """One ``deliver_pending`` call in an app context (tests and the loop)."""
    with app.app_context():
        try:
            return outbox.deliver_pending(now or clock.now(), app.config["DELIVERY_BATCH_SIZE"],
                                          settings or delivery_settings(app))
        finally:
            db.session.remove()


def run(app: Flask, *, stop: threading.Event | None = None, once: bool = False) -> None:
    """Deliver until ``stop`` is set (SIGTERM and SIGINT set it in the main thread)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with app.app_context():
        settings = delivery_settings(app)
        db.session.remove()
    poll = float(app.config["DELIVERY_POLL_SECONDS"])
    while not stop.is_set():
        try:
            counts = deliver_once(app, settings)
        except Exception:  # the database restarting, say: log, wait, try again
            log.exception("delivering notifications failed; retrying")
            stop.wait(poll)
            continue
        if counts.claimed:
            log.info("notifications: %s", counts)
        if once and not counts.claimed:
            return
        if not counts.claimed:
            stop.wait(poll)
