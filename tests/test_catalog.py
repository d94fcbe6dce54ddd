"""Pet lists and the inventory are reused between writes, and never stale, even when the
write went through another instance on the same database."""

from helpers import Api, base_config, serving_app
from timekit_api.domain import catalog


def test_answers_follow_every_kind_of_pet_write(client, api, alice):
    pet = api.add_pet(alice, tags=[{"name": "t"}])
    assert client.get("/v2/store/inventory").json["available"] == 1
    assert len(client.get("/v2/pet/findByTags?tags=t").json) == 1
    client.post(f"/v2/pet/{pet['id']}", data={"status": "sold"}, headers=alice)
    assert client.get("/v2/store/inventory").json == {"available": 0, "pending": 0, "sold": 1}
    assert client.get("/v2/pet/findByStatus?status=sold").json[0]["status"] == "sold"
    client.put("/v2/pet", json={**pet, "tags": [], "status": "pending"}, headers=alice)
    assert client.get("/v2/pet/findByTags?tags=t").json == []
    assert client.get("/v2/store/inventory").json["pending"] == 1
    client.delete(f"/v2/pet/{pet['id']}", headers=alice)
    assert client.get("/v2/store/inventory").json == {"available": 0, "pending": 0, "sold": 0}
    assert client.get("/v2/pet/findByStatus?status=pending").json == []


def test_write_through_another_instance_is_seen(app, client, api, alice, tmp_path):
    other = serving_app({**base_config(tmp_path), "DATABASE_URL": app.config["DATABASE_URL"]})
    assert client.get("/v2/store/inventory").json["available"] == 0   # cached here
    api.add_pet(alice)
    other_client = other.test_client()
    assert other_client.get("/v2/store/inventory").json["available"] == 1
    token = alice["Authorization"].split()[1]
    other_client.post("/v2/pet", json={"name": "b", "photoUrls": [], "status": "available"},
                      headers={"api_key": token})
    assert client.get("/v2/store/inventory").json["available"] == 2


def test_cache_is_bounded_in_bytes():
    cache = catalog.AnswerCache(max_bytes=10)
    cache._entries[("a", 1)] = b"12345"
    cache._bytes = 5

    big, small = b"x" * 11, b"123456"
    assert cache.max_bytes == 10
    # an answer larger than the budget is served but never kept (no database needed here)
    from unittest import mock
    with mock.patch.object(catalog.db, "session") as session:
        session.connection.return_value.execute.return_value.first.return_value = ("e", 7)
        assert cache.get("big", lambda: big) == big
        assert ("big", "e", 7) not in cache._entries
        assert cache.get("small", lambda: small) == small
    assert ("small", "e", 7) in cache._entries and ("a", 1) not in cache._entries
    assert cache._bytes == 6


def test_a_recreated_database_never_gets_old_answers(tmp_path):
    """Versions restart at 0 in a new database; the random epoch keeps answers apart."""
    counts = []
    for name in ("one", "two"):
        app = serving_app({**base_config(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/{name}.db"})
        client = app.test_client()
        if name == "one":
            helper = Api(client)
            helper.add_pet(helper.user("zed"), status="sold")
        counts.append(client.get("/v2/store/inventory").json["sold"])
    assert counts == [1, 0]
