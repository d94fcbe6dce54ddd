"""Serving with waitress, including the seed's ``api_key`` header.

waitress (like gunicorn, nginx and Werkzeug's own server) drops every request header whose
name contains ``_``, because ``api_key`` and ``api-key`` would both become ``HTTP_API_KEY``
and one could spoof the other behind a proxy. The seed's security scheme *is* ``api_key``,
so generated clients send exactly that. ``allow_api_key_header()`` renames that single
header to ``api-key`` before waitress parses it; every other underscore header is still
dropped. ``wsgi.py`` calls it, so plain ``waitress-serve wsgi:app`` works too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import resource

import waitress
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser

API_KEY_LINE = re.compile(rb"(\r\n)api_key(?=[ \t]*:)", re.IGNORECASE)


class ApiKeyHeaderParser(HTTPRequestParser):
    def parse_header(self, header_plus: bytes):
        return super().parse_header(API_KEY_LINE.sub(rb"\1api-key", header_plus))


def allow_api_key_header() -> None:
    """Make every waitress server in this process accept the ``api_key`` header."""
    HTTPChannel.parser_class = ApiKeyHeaderParser


SEND_CHUNK_BYTES = 256 * 1024


def send_in_bounded_chunks(chunk: int = SEND_CHUNK_BYTES) -> None:
    """Make every waitress connection in this process read at most ``chunk`` bytes of a
    response at a time.

    waitress reads as much of a response (from memory or from its file) per ``send()`` as
    the socket's send buffer holds, and reads it twice (to send, then to skip what was
    sent). On Linux the kernel grows that buffer to about 4 MB, so 8 clients fetching a
    7 MB pet list held 30 MB of copies at once: the server's peak memory
    (benchmarks/PROFILE.md, "memory"). Smaller reads change nothing else: waitress goes
    on sending while the socket takes more, and the kernel still sizes its own buffer.
    """
    def get(channel) -> int:
        return channel.__dict__.get("_bounded_sendbuf_len", chunk)

    def set_(channel, value: int) -> None:
        channel.__dict__["_bounded_sendbuf_len"] = min(value, chunk)

    HTTPChannel.sendbuf_len = property(get, set_)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def return_large_blocks_to_the_system(threshold: int = 4 * 1024 * 1024) -> None:
    """Have glibc ``mmap`` every block from ``threshold`` bytes up, and unmap it when freed.

    glibc raises that threshold by itself after freeing a large block (a scrypt buffer, a
    large pet list), so later large blocks came from per-thread heaps that keep them; a
    fixed threshold gives them back. The measurements that chose 4 MiB are in
    benchmarks/PROFILE.md ("mmap threshold"). No-op off glibc.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, threshold)
    except (OSError, AttributeError):
        pass


def serving_options(config) -> dict:
    """waitress's options from our settings (SERVE_*).

    waitress's own defaults let 100 idle connections (held 120 s each) lock everyone else
    out. Ours accept 1,000 connections, close idle ones after 30 s, queue 2,048 in the
    kernel and use poll() rather than select(), which cannot watch descriptors past 1,024.
    """
    return {
        "threads": config["SERVE_THREADS"],
        "connection_limit": config["SERVE_CONNECTION_LIMIT"],
        "channel_timeout": config["SERVE_CHANNEL_TIMEOUT"],
        "backlog": config["SERVE_BACKLOG"],
        "cleanup_interval": config["SERVE_CLEANUP_INTERVAL"],
        "asyncore_use_poll": True,
    }


def allow_open_files(count: int) -> None:
    """Raise this process's open-file limit towards ``count`` (up to the hard limit), so
    the connection limit, not the descriptor limit, is what refuses clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count if hard == resource.RLIM_INFINITY else min(count, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def serve(app, host: str = "127.0.0.1", port: int = 8080, threads: int = 4, **options) -> None:
    allow_api_key_header()
    send_in_bounded_chunks()
    return_large_blocks_to_the_system()
    allow_open_files(options.get("connection_limit", 100) + 256)
    waitress.serve(app, host=host, port=port, threads=threads, **options)
