"""Recognise uploaded images by their content, never by the client's word."""

from __future__ import annotations

# (magic bytes at offset 0, extra check, content type)
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", None, "image/png"),
    (b"\xff\xd8\xff", None, "image/jpeg"),
    (b"GIF87a", None, "image/gif"),
    (b"GIF89a", None, "image/gif"),
    (b"RIFF", (8, b"WEBP"), "image/webp"),
)


def sniff_image_type(head: bytes) -> str | None:
    """The image content type of bytes starting with ``head``, or None if not an image."""
    for magic, extra, content_type in SIGNATURES:
        if head.startswith(magic):
            if extra is None or head[extra[0]:extra[0] + len(extra[1])] == extra[1]:
                return content_type
    return None
