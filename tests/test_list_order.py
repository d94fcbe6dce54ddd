"""Lists are joined by the database (``pet_documents``): they must stay in id order."""


def test_find_by_status_and_tags_are_in_id_order(client, api, alice):
    for pet_id in (50, 7, 23, 1):
        api.add_pet(alice, id=pet_id, tags=[{"name": "t"}])
    by_status = client.get("/v2/pet/findByStatus?status=available").json
    assert [p["id"] for p in by_status] == [1, 7, 23, 50]
    by_tags = client.get("/v2/pet/findByTags?tags=t").json
    assert [p["id"] for p in by_tags] == [1, 7, 23, 50]
    assert client.get("/v2/pet/findByStatus?status=sold").json == []
