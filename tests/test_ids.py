"""Client-chosen ids and server-assigned ids share one table without colliding (issue 5).

Runs on SQLite and, with TIMEKIT_TEST_DATABASE_URL, on PostgreSQL, where a bare sequence
would hand out an id a client already took.
"""

from __future__ import annotations

import io

from helpers import PNG
from timekit_api.database import db
from timekit_api.database.models import User

INT64_MAX = 2**63 - 1


def test_server_assigned_pet_ids_skip_client_chosen_ones(api, client, alice):
    first = api.add_pet(alice)["id"]
    chosen = [first + 1, first + 2, 4242]
    for pet_id in chosen:
        assert api.add_pet(alice, id=pet_id)["id"] == pet_id
    later = [api.add_pet(alice)["id"] for _ in range(3)]
    assert not set(later) & {first, *chosen}
    assert len(set(later)) == 3
    for pet_id in [first, *chosen, *later]:
        assert client.get(f"/v2/pet/{pet_id}").status_code == 200


def test_largest_client_chosen_id_does_not_exhaust_server_ids(api, alice):
    assert api.add_pet(alice, id=INT64_MAX)["id"] == INT64_MAX
    assert api.add_pet(alice)["id"] not in (INT64_MAX, None)
    assert api.add_pet(alice)["id"] != INT64_MAX


def test_server_assigned_order_ids_skip_client_chosen_ones(api, client, alice):
    pet = api.add_pet(alice)
    def order(**fields):
        response = client.post("/v2/store/order", json={"petId": pet["id"], "quantity": 1,
                                                         **fields}, headers=alice)
        assert response.status_code == 200, response.json
        return response.json["id"]
    first = order()
    assert order(id=first + 1) == first + 1
    assert order() not in (first, first + 1)


def test_server_assigned_user_ids_skip_client_chosen_ones(api, client, alice):
    # alice is the first user; take the next ids explicitly.
    response = client.post("/v2/user/createWithArray", headers=alice, json=[
        {"id": n, "username": f"chosen{n}", "password": "pw-secret"} for n in range(2, 5)])
    assert response.status_code == 200, response.json
    assert api.signup("carol")["id"] not in range(1, 5)


MAX_SERVER_ID = 2**53 - 1


def test_server_ids_stay_within_2_53_whatever_ids_clients_chose(api, client, alice):
    """SQLite's own max(id) + 1 would follow a client's 2**62; the server counts on."""
    for huge in (2**62, INT64_MAX, MAX_SERVER_ID):
        assert api.add_pet(alice, id=huge)["id"] == huge
    pet_ids = [api.add_pet(alice)["id"] for _ in range(3)]
    assert all(pet_id < MAX_SERVER_ID for pet_id in pet_ids), pet_ids
    assert len(set(pet_ids)) == 3

    def order(**fields):
        response = client.post("/v2/store/order", json={"petId": pet_ids[0], **fields},
                               headers=alice)
        assert response.status_code == 200, response.json
        return response.json["id"]
    assert order(id=2**62) == 2**62
    assert order() < MAX_SERVER_ID

    response = client.post("/v2/user/createWithArray", headers=alice, json=[
        {"id": 2**62, "username": "huge", "password": "pw-secret"}])
    assert response.status_code == 200, response.json
    assert api.signup("after-huge")["id"] < MAX_SERVER_ID


def test_image_urls_are_never_reused_for_other_bytes(api, client, alice):
    """Deleting the newest image (with its pet) must not hand its id, and so its URL, to
    the next upload; a pet recreated with the same id gets new URLs too."""
    def upload(pet_id, data):
        response = client.post(f"/v2/pet/{pet_id}/uploadImage", headers=alice,
                               data={"file": (io.BytesIO(data), "a.png")},
                               content_type="multipart/form-data")
        assert response.status_code == 200, response.json
        return client.get(f"/v2/pet/{pet_id}").json["photoUrls"][-1]

    pet = api.add_pet(alice, id=77)
    first = upload(77, PNG)
    assert client.delete("/v2/pet/77", headers=alice).status_code == 200
    api.add_pet(alice, id=77)
    second = upload(77, PNG + b"other bytes")
    assert second != first
    assert client.get(second.split("/v2", 1)[-1].join(["/v2", ""])).data == PNG + b"other bytes"
    assert pet["id"] == 77


def test_demo_data_leaves_room_for_new_users(runner, api, client):
    result = runner.invoke(args=["load-demo"])
    assert result.exit_code == 0, result.output
    assert "DEMO DATA IS FOR DEMOS" in result.output
    created = api.signup("newcomer")
    assert created["id"] not in range(1, 12)
    assert client.get("/v2/pet/10").json["name"] == "Rabbit 1"
    assert client.get("/v2/store/inventory").json == {"available": 7, "pending": 2, "sold": 1}


def test_integrity_error_is_a_409_in_the_error_shape(app, client):
    @app.route("/v2/test-duplicate")
    def duplicate():
        db.session.add_all([User(username="twin", password_hash="x"),
                            User(username="twin", password_hash="x")])
        db.session.commit()

    response = client.get("/v2/test-duplicate")
    assert response.status_code == 409
    assert response.json["code"] == 409
    assert response.json["type"] == "error"
    assert "message" in response.json
    # The session was rolled back: the next request works.
    assert client.get("/v2/store/inventory").status_code == 200
