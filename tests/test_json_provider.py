"""JSON answers are encoded by orjson (http/json_provider.py) and read as Flask's would."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

from flask.json.provider import DefaultJSONProvider

from timekit_api import create_app


def test_answers_read_back_as_the_standard_encoder_writes_them(app):
    value = {"name": "Åse ✓", "when": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
             "day": dt.date(2030, 1, 2), "price": decimal.Decimal("1.50"),
             "id": uuid.UUID(int=1), "list": [1, 2.5, None, True]}
    standard = DefaultJSONProvider(app)
    with app.app_context():
        response = app.json.response(value)
    assert response.mimetype == "application/json"
    assert response.get_data().endswith(b"\n")
    assert "Åse ✓".encode() in response.get_data()  # UTF-8, not \\u escapes
    assert json.loads(response.get_data()) == json.loads(standard.dumps(value))
    assert json.loads(app.json.dumps(value)) == json.loads(standard.dumps(value))


def test_keys_keep_their_order_and_what_orjson_refuses_falls_back():
    app = create_app({"DATABASE_URL": "sqlite://"})
    assert app.json.dumps({"b": 1, "a": 2}) == '{"b":1,"a":2}'
    huge = {"n": 2**70}  # beyond orjson's 64-bit integers
    assert json.loads(app.json.dumps(huge)) == huge
    with app.app_context():
        assert json.loads(app.json.response(huge).get_data()) == huge
    assert app.json.dumps([1], indent=2) == "[\n  1\n]"


def test_debug_answers_are_indented():
    app = create_app({"DATABASE_URL": "sqlite://", "DEBUG": True})
    app.debug = True
    with app.app_context():
        assert app.json.response({"a": 1}).get_data() == b'{\n  "a": 1\n}\n'
