"""On SQLite, a process's writers take turns in order (``database.WriterQueue``): no writer
waits behind a stream of newer ones, the counts stay exact, and a turn never held by a dead
request blocks anyone."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from timekit_api.database import TurnLock, db


def test_turns_are_given_in_order():
    lock = TurnLock()
    assert lock.acquire(1)
    order, started = [], []

    def waiter(n):
        started.append(n)
        assert lock.acquire(5)
        order.append(n)
        lock.release()

    threads = []
    for n in range(5):
        thread = threading.Thread(target=waiter, args=(n,))
        thread.start()
        threads.append(thread)
        while len(started) <= n:  # queue them one after another
            time.sleep(0.001)
        time.sleep(0.01)
    lock.release()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]


def test_a_wait_past_the_timeout_goes_ahead_without_a_turn():
    lock = TurnLock()
    assert lock.acquire(1)
    assert lock.acquire(0.05) is False
    lock.release()
    assert lock.acquire(0.05) is True  # the abandoned place in the queue is gone


@pytest.fixture
def counter(app):
    if "timekit_api.writer_queue" not in app.extensions:
        pytest.skip("the writer queue is SQLite's")
    with app.app_context():
        db.session.execute(sa.text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        db.session.execute(sa.text("INSERT INTO counter VALUES (1, 0)"))
        db.session.commit()
    return app


def test_writers_take_turns_and_every_turn_is_given_back(counter):
    app, errors = counter, []
    queue = app.extensions["timekit_api.writer_queue"]
    taken = []
    original = queue.turns.acquire

    def counting_acquire(timeout):
        taken.append(original(timeout))
        return taken[-1]

    queue.turns.acquire = counting_acquire

    def writer():
        with app.app_context():
            try:
                for _ in range(40):
                    db.session.execute(sa.text("UPDATE counter SET n = n + 1 WHERE id = 1"))
                    time.sleep(0.002)  # a transaction that holds the write lock a while
                    db.session.commit()
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT n FROM counter")) == 160
    assert len(taken) >= 160 and all(taken)  # every write transaction waited for its turn
    assert queue.turns.free


def test_a_request_ending_mid_transaction_gives_its_turn_back(counter):
    queue = counter.extensions["timekit_api.writer_queue"]
    with counter.app_context():
        db.session.execute(sa.text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        assert not queue.turns.free
        db.session.rollback()
        assert queue.turns.free
        db.session.execute(sa.text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        db.session.remove()  # no commit, no rollback: the pool's reset gives it back
    assert queue.turns.free
    with counter.app_context():
        assert db.session.scalar(sa.text("SELECT n FROM counter")) == 0
