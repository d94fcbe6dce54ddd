"""Serving: waitress (wsgi.py and `timekit-api serve`), and two instances on one PostgreSQL."""

from __future__ import annotations

import io
import os
import socket
import threading

import pytest
import requests
from waitress.channel import HTTPChannel
from waitress.server import create_server

from helpers import (
    TEST_DATABASE_URL,
    cli_serve_command,
    free_port,
    http_token,
    start_server,
    tiny_png,
    waitress_serve_command,
)
from timekit_api.serving import SEND_CHUNK_BYTES, send_in_bounded_chunks

needs_postgresql = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="set TIMEKIT_TEST_DATABASE_URL to a PostgreSQL database")


def test_waitress_serves_wsgi_app_with_the_api_key_header(live_server):
    url = live_server.url
    assert requests.get(url + "/health", timeout=10).json() == {"status": "ok",
                                                                "database": "ok"}
    token = http_token(url, "waitress")
    pet = requests.post(url + "/pet", json={"name": "Rex", "photoUrls": []},
                        headers={"api_key": token}, timeout=10)
    assert pet.status_code == 200, pet.text
    mine = requests.get(url + "/user/waitress", headers={"api_key": token}, timeout=10)
    assert mine.status_code == 200
    # Without credentials the same request is refused: the header really authenticated.
    assert requests.get(url + "/user/waitress", timeout=10).status_code == 401
    deleted = requests.delete(f"{url}/pet/{pet.json()['id']}", headers={"api_key": token},
                              timeout=10)
    assert deleted.status_code == 200, deleted.text
    output = live_server.stop()
    # The access log reaches the server's output, without the login's query string or token.
    assert "GET /v2/health 200" in output
    assert "GET /v2/user/login 200" in output
    assert "pw-secret" not in output and token not in output and "password=" not in output


def test_timekit_api_serve_command(server_database):
    port = free_port()
    server = start_server(cli_serve_command(port, threads=2), server_database, port)
    try:
        token = http_token(server.url, "cli-served")
        assert requests.get(server.url + "/user/cli-served", headers={"api_key": token},
                            timeout=10).status_code == 200
    finally:
        output = server.stop()
    assert f"Serving on http://127.0.0.1:{port}/v2/docs" in output
    assert "GET /v2/user/cli-served 200" in output
    assert "pw-secret" not in output and token not in output


@pytest.fixture
def serve_calls(monkeypatch):
    """``timekit-api serve`` run in this process with waitress and the worker thread replaced
    by recorders: a real worker thread would outlive the test here, polling (on PostgreSQL,
    the shared database of every later test)."""
    calls = {"waitress": [], "workers": []}
    monkeypatch.setattr("waitress.serve",
                        lambda app, **kwargs: calls["waitress"].append((app, kwargs)))
    monkeypatch.setattr("timekit_api.commands.configure_default_logging", lambda: None)
    monkeypatch.setattr("timekit_api.commands.start_thread", calls["workers"].append)
    return calls


def test_serve_passes_host_port_and_threads_to_waitress(runner, serve_calls):
    result = runner.invoke(args=["serve", "--host", "0.0.0.0", "--port", "9191",
                                 "--threads", "7"])
    assert result.exit_code == 0, result.output
    ((app, kwargs),) = serve_calls["waitress"]
    assert serve_calls["workers"] == [app]
    assert kwargs == {"host": "0.0.0.0", "port": 9191, "threads": 7, "connection_limit": 1000,
                      "channel_timeout": 30, "backlog": 2048, "cleanup_interval": 10,
                      "asyncore_use_poll": True}
    assert app.name == "timekit_api"


def test_serve_takes_connection_limit_and_channel_timeout_options(runner, serve_calls):
    result = runner.invoke(args=["serve", "--connection-limit", "300", "--channel-timeout", "5"])
    assert result.exit_code == 0, result.output
    ((_, kwargs),) = serve_calls["waitress"]
    assert kwargs["connection_limit"] == 300 and kwargs["channel_timeout"] == 5
    assert kwargs["threads"] == 32  # SERVE_THREADS


@needs_postgresql
def test_two_instances_share_tokens_and_images(server_database):
    """Two waitress processes on one PostgreSQL, as behind a load balancer.

    Bookings racing across two instances: tests/test_bookings_race.py.
    """
    first_port, second_port = free_port(), free_port()
    first = start_server(waitress_serve_command(first_port), server_database, first_port)
    try:
        second = start_server(waitress_serve_command(second_port), server_database, second_port)
        try:
            token = http_token(first.url, "roamer")
            # A token issued by one instance is accepted by the other.
            assert requests.get(second.url + "/user/roamer", headers={"api_key": token},
                                timeout=10).status_code == 200
            pet = requests.post(first.url + "/pet", json={"name": "Rex", "photoUrls": []},
                                headers={"api_key": token}, timeout=10).json()
            image = tiny_png(padding=300)
            upload = requests.post(f"{first.url}/pet/{pet['id']}/uploadImage",
                                   headers={"api_key": token}, timeout=10,
                                   files={"file": ("rex.png", image, "image/png")})
            assert upload.status_code == 200, upload.text
            # The image uploaded through the first is served by the second.
            (url,) = requests.get(f"{second.url}/pet/{pet['id']}", timeout=10
                                  ).json()["photoUrls"]
            served = requests.get(f"http://127.0.0.1:{second_port}{url}", timeout=10)
            assert served.status_code == 200
            assert served.headers["Content-Type"] == "image/png"
            assert served.content == image
            # Sign-out on the second revokes the token on the first.
            assert requests.get(second.url + "/user/logout", headers={"api_key": token},
                                timeout=10).status_code == 200
            assert requests.get(first.url + "/user/roamer", headers={"api_key": token},
                                timeout=10).status_code == 401
            # Both report a healthy database.
            for server in (first, second):
                assert requests.get(server.url + "/health", timeout=10).status_code == 200
        finally:
            second.stop()
    finally:
        first.stop()


class RecordedReads(io.FileIO):
    """A file that remembers how many bytes each read asked for."""

    sizes: list[int]

    def read(self, size=-1):
        self.sizes.append(size)
        return super().read(size)


def largest_read_serving(path, patched: bool) -> tuple[int, bytes]:
    """Serve ``path`` through waitress's file wrapper; the largest read and the body."""
    files: list[RecordedReads] = []

    def app(environ, start_response):
        file = RecordedReads(path)
        file.sizes = []
        files.append(file)
        start_response("200 OK", [("Content-Length", str(path.stat().st_size))])
        return environ["wsgi.file_wrapper"](file, 64 * 1024)

    saved = HTTPChannel.__dict__.get("sendbuf_len")
    if saved is not None and not patched:
        del HTTPChannel.sendbuf_len
    try:
        if patched:
            send_in_bounded_chunks()
        server = create_server(app, host="127.0.0.1", port=0, threads=1)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            body = requests.get(f"http://127.0.0.1:{server.effective_port}/", timeout=30).content
        finally:
            server.close()
            thread.join(10)
    finally:
        if saved is not None:
            HTTPChannel.sendbuf_len = saved
        elif "sendbuf_len" in HTTPChannel.__dict__:
            del HTTPChannel.sendbuf_len
    return max(files[0].sizes), body


def test_a_large_answer_is_read_in_bounded_chunks(tmp_path):
    """waitress reads a response's file as much at a time as the socket's send buffer
    holds (about 4 MB on a Linux loopback); served as the service serves, at most
    SEND_CHUNK_BYTES, and the answer is whole."""
    path = tmp_path / "answer.json"
    path.write_bytes(os.urandom(6 * 1024 * 1024))
    largest, body = largest_read_serving(path, patched=True)
    assert body == path.read_bytes()
    assert largest <= SEND_CHUNK_BYTES
    # The control: waitress's own reads, where the kernel's buffer is larger than ours.
    with socket.create_server(("127.0.0.1", 0)) as listener, \
            socket.create_connection(listener.getsockname()):
        accepted, _ = listener.accept()
        with accepted:
            kernel_buffer = accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    largest, body = largest_read_serving(path, patched=False)
    assert body == path.read_bytes()
    if kernel_buffer > SEND_CHUNK_BYTES:
        assert largest > SEND_CHUNK_BYTES
