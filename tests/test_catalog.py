"""Pet lists and the inventory are reused between writes, and never stale, even when the
write went through another instance on the same database."""

import os
from unittest import mock

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


def test_cache_is_bounded_in_memory_and_on_disk():
    """Small answers stay in memory, large ones in files; both budgets hold, oldest out
    first, and an evicted answer's file is gone (no database needed here)."""
    cache = catalog.AnswerCache(max_memory=10, max_files=100, small=8)
    writes = {name: (lambda out, data=data: out.write(data)) for name, data in {
        "a": b"12345", "b": b"123456", "big": b"x" * 50, "bigger": b"y" * 60,
        "huge": b"z" * 101}.items()}
    with mock.patch.object(catalog.db, "session") as session:
        session.connection.return_value.execute.return_value.first.return_value = ("e", 7)
        first = cache.get("a", writes["a"])
        assert (first.data, first.path) == (b"12345", None)
        cache.get("b", writes["b"])  # 5 + 6 > 10: "a" moves to a file
        assert [key[0] for key in cache._entries] == ["a", "b"]
        moved = cache._entries[("a", "e", 7)]
        assert moved.data is None and moved.read() == b"12345"
        big = cache.get("big", writes["big"])
        assert big.data is None and big.read() == b"x" * 50
        with big.open() as reader:
            # 5 + 50 + 60 > 100: the oldest files go ("a", then "big")
            assert cache.get("bigger", writes["bigger"]).read() == b"y" * 60
            assert not os.path.exists(big.path) and not os.path.exists(moved.path)
            assert reader.read() == b"x" * 50  # a reader that opened it first still reads
        huge = cache.get("huge", writes["huge"])  # over the disk budget: served, not kept
        assert huge.read() == b"z" * 101 and ("huge", "e", 7) not in cache._entries
    assert [key[0] for key in cache._entries] == ["b", "bigger"]
    cache.clear()
    assert os.listdir(cache._folder.name) == []


def test_a_forked_process_gets_its_own_answer_files():
    cache = catalog.AnswerCache(small=0)
    parent_folder = cache._folder_path()
    cache._folder_pid = -1  # as seen from a forked child
    assert cache._folder_path() != parent_folder and cache._entries == {}


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
