"""Layer 2, the domain: what the service does, with no Flask request objects in it.

Each module owns one kind of object and its rules (``pets``, ``orders``, ``accounts``,
``tokens``, ``access``, ``booking/``); functions take plain values (a user id, a loaded
body) and raise the exceptions of ``errors.py``, which the HTTP layer and the CLI turn
into their own kind of answer. ``schemas.py`` and ``booking/schemas.py`` hold the
contract's wire shapes (marshmallow), read by the HTTP layer for validation and the docs
and by the domain to write the stored pet documents.
"""
