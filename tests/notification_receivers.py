"""Real receivers on 127.0.0.1 for the notification tests: a webhook endpoint that checks both
signatures and answers from a script, and an SMTP server (aiosmtpd) that keeps every message."""

from __future__ import annotations

import email
import email.policy
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from helpers import free_port
from timekit_api.domain.notifications import signing


class QuietHTTPServer(ThreadingHTTPServer):
    """A receiver whose client gave up (the timeout tests) is expected: socketserver would
    print its broken pipe to whatever ``sys.stderr`` is at that moment, which may be a later
    test's captured CLI output."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Receiver:
    """Records each request (``received``) in arrival order; ``script`` holds the answers to
    give next (an int status, or ``"hang"`` to keep the caller waiting ``hang_seconds``);
    once it is empty every request gets 200. ``secret`` checks both signatures."""

    def __init__(self, secret: str = ""):
        self.secret = secret
        self.script: list = []
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.hang_seconds = 3.0
        self.port = free_port()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as real servers do: no 40 ms per answer

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    answer = receiver.script.pop(0) if receiver.script else 200
                    receiver.received.append({
                        "body": body, "headers": {k.lower(): v for k, v in self.headers.items()},
                        "answer": answer, "signed": receiver.signed(body, self.headers)})
                if answer == "hang":
                    time.sleep(receiver.hang_seconds)
                    answer = 200
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = QuietHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def signed(self, body: bytes, headers) -> bool:
        if not self.secret:
            return False
        return (signing.verify(self.secret, body, headers.get(signing.SIGNATURE_HEADER))
                and signing.verify_v2(self.secret, body, headers.get(signing.SIGNATURE_V2_HEADER),
                                      time.time()))

    def events(self) -> list[tuple[str, str]]:
        """(event, booking state) of each request, in arrival order."""
        return [(r["headers"]["x-timekit-event"], json.loads(r["body"]).get("state"))
                for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An SMTP server keeping each message parsed (``messages``)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                mailbox.messages.append(email.message_from_bytes(
                    envelope.content, policy=email.policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def attachments_of(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True)
            for part in message.iter_attachments()}
