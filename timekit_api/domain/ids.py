"""The id rule, defined once: which integers name a stored object.

Path ids (``/pet/{petId}``), search terms (``resource_id:7``) and body ids all read it. Ids
are positive and fit a signed 64-bit column (PostgreSQL ``bigint``, SQLite ``INTEGER``).
"""

from __future__ import annotations

MIN_ID = 1
MAX_ID = 2**63 - 1
# Body ids may be any int64: an absent id, 0 or a negative one asks the server to assign one.
MIN_INT64, MAX_INT64 = -(2**63), 2**63 - 1


def parse_id(text: str) -> int | None:
    """The id that ``text`` spells in ASCII digits, or None when it names no storable object."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if MIN_ID <= value <= MAX_ID else None


def is_id(value: int) -> bool:
    return MIN_ID <= value <= MAX_ID
