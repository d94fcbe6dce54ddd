"""The worker: records due automatic transitions, delivers notifications, and purges what
expired (``domain/housekeeping.py``) every ``WORKER_PURGE_INTERVAL_SECONDS``.

Runs as a thread of ``timekit-api serve`` and ``wsgi.py`` (``WORKER_ENABLED``) or as its
own process, ``timekit-api worker``. Any number of workers may share one database: the
claims in ``domain/booking/automation.py`` make each transition recorded once. A round is a
few short transactions, so stopping (SIGTERM) between rounds loses nothing, and a killed
worker leaves its unfinished work due for the next one. A database that goes away
(restart, failover) is waited out: the round fails, is logged, and is retried.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from flask import Flask
from sqlalchemy.exc import OperationalError

from .database import db
from .delivery import deliver_once
from .domain import clock, housekeeping
from .domain.booking.automation import run_due

logger = logging.getLogger("timekit_api.worker")
MAX_BACKOFF_SECONDS = 30.0


class Worker:
    """Polls for due work every ``WORKER_POLL_SECONDS`` until :meth:`stop` is called."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.poll_seconds = float(app.config["WORKER_POLL_SECONDS"])
        self.batch_size = int(app.config["WORKER_BATCH_SIZE"])
        self.purge_interval = float(app.config["WORKER_PURGE_INTERVAL_SECONDS"])
        self.next_purge = time.monotonic()  # at the first round, then every interval
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """One round: record the automatic transitions due now, then send the notifications
        that are due; returns how many transitions."""
        with self.app.app_context():
            try:
                clock.forget()  # the testing clock may have moved since the last round
                total = 0
                while not self.stopping.is_set():
                    done = run_due(limit=self.batch_size, settings=self.app.config)
                    total += done
                    if done == 0:
                        break
                if total:
                    logger.info("recorded %d automatic transition(s)", total)
            finally:
                db.session.remove()
        # Then the notifications those and other transitions queued (contract section 8).
        counts = deliver_once(self.app)
        if counts.claimed:
            logger.info("notifications: %s", counts)
        if time.monotonic() >= self.next_purge:
            self.purge()
        return total

    def purge(self) -> housekeeping.Purged:
        """Delete what expired; the next purge is one interval later."""
        self.next_purge = time.monotonic() + self.purge_interval
        with self.app.app_context():
            try:
                purged = housekeeping.purge(clock.now(), self.app.config)
            finally:
                db.session.remove()
        if purged.total:
            logger.info("purged %s", purged)
        return purged

    def run(self) -> None:
        """Loop until stopped; database errors are logged and retried with a backoff."""
        logger.info("worker started (poll every %ss)", self.poll_seconds)
        backoff = self.poll_seconds
        while not self.stopping.is_set():
            try:
                self.run_once()
                backoff = self.poll_seconds
            except OperationalError as error:
                logger.warning("database unavailable, retrying in %.1fs: %s", backoff,
                               str(error).splitlines()[0])
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            except Exception:
                logger.exception("worker round failed")
            self.stopping.wait(self.poll_seconds)
        logger.info("worker stopped")

    def stop(self) -> None:
        self.stopping.set()


def start_thread(app: Flask) -> Worker | None:
    """Run a worker beside the server in a daemon thread, if ``WORKER_ENABLED``."""
    if not app.config["WORKER_ENABLED"]:
        return None
    worker = Worker(app)
    threading.Thread(target=worker.run, name="timekit-worker", daemon=True).start()
    return worker


def run_until_signalled(app: Flask) -> None:
    """Run a worker in this process until SIGTERM or SIGINT (``timekit-api worker``)."""
    worker = Worker(app)

    def stop(signum, frame):
        logger.info("signal %d: stopping after this round", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run()
