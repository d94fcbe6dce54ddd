"""Work no request should repeat: building argument schemas, asking Flask's coroutine
question of the same function again (benchmarks/PROFILE.md, "bookings list")."""

from __future__ import annotations

import marshmallow as ma


def test_no_schema_is_built_per_request(app, client, api, monkeypatch):
    headers = api.user("alice")
    requests = [("/v2/bookings?limit=5", headers), ("/v2/pet/findByStatus?status=sold", {}),
                ("/v2/store/order/1", headers)]
    for path, with_headers in requests:  # warm-up: what is built once is built now
        client.get(path, headers=with_headers)
    built = []
    real = ma.Schema.__init__

    def counting(self, *args, **kwargs):
        built.append(type(self).__name__)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ma.Schema, "__init__", counting)
    answers = [client.get(path, headers=with_headers).status_code
               for path, with_headers in requests]
    assert answers == [200, 200, 404]
    assert built == []


def test_coroutine_checks_are_remembered_per_function(app):
    class View:
        def get(self):
            return "plain"

    before = len(app._plain_functions)
    for _ in range(5):  # a new object per request, as MethodView makes
        method = View().get
        assert app.ensure_sync(method) is method
    assert len(app._plain_functions) == before + 1 and View.get in app._plain_functions
