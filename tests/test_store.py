"""Store tag: inventory and orders."""

import pytest


def order_body(pet_id, **fields):
    return {"petId": pet_id, "quantity": 2, "shipDate": "2026-01-02T03:04:05Z",
            "status": "placed", "complete": False, **fields}


@pytest.fixture
def pet_id(api, alice):
    return api.add_pet(alice)["id"]


class TestInventory:
    def test_counts_by_status_including_zeroes(self, client, api, alice):
        for status in ("available", "available", "sold"):
            api.add_pet(alice, status=status)
        assert client.get("/v2/store/inventory").json == {
            "available": 2, "pending": 0, "sold": 1}

    def test_pets_without_status_are_not_counted(self, client, alice):
        client.post("/v2/pet", json={"name": "x", "photoUrls": []}, headers=alice)
        assert sum(client.get("/v2/store/inventory").json.values()) == 0


class TestPlaceOrder:
    def test_places_and_reads_back(self, client, alice, pet_id):
        response = client.post("/v2/store/order", json=order_body(pet_id), headers=alice)
        assert response.status_code == 200
        order = response.json
        assert order == {"id": order["id"], "petId": pet_id, "quantity": 2,
                         "shipDate": "2026-01-02T03:04:05+00:00", "status": "placed",
                         "complete": False}
        assert client.get(f"/v2/store/order/{order['id']}", headers=alice).json == order

    def test_offsets_are_stored_in_utc(self, client, alice, pet_id):
        body = order_body(pet_id, shipDate="2026-01-02T05:04:05+02:00")
        assert client.post("/v2/store/order", json=body,
                           headers=alice).json["shipDate"] == "2026-01-02T03:04:05+00:00"

    def test_defaults(self, client, alice, pet_id):
        order = client.post("/v2/store/order", json={"petId": pet_id}, headers=alice).json
        assert (order["status"], order["complete"], order["quantity"]) == ("placed", False, 1)

    @pytest.mark.parametrize("change, field", [
        ({"status": "lost"}, "status"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 2**31}, "quantity"),
        ({"shipDate": "yesterday"}, "shipDate"),
        ({"complete": "maybe"}, "complete"),
        ({"bogus": 1}, "bogus"),
        ({"petId": 424242}, "petId"),  # no such pet
    ])
    def test_invalid_order_is_400(self, client, alice, pet_id, change, field):
        response = client.post("/v2/store/order", json=order_body(pet_id, **change), headers=alice)
        assert response.status_code == 400
        assert field in response.json["errors"]

    def test_existing_id_is_409(self, client, alice, pet_id):
        client.post("/v2/store/order", json=order_body(pet_id, id=5), headers=alice)
        assert client.post("/v2/store/order", json=order_body(pet_id, id=5),
                           headers=alice).status_code == 409

    def test_anonymous_is_401(self, client, pet_id):
        assert client.post("/v2/store/order", json=order_body(pet_id)).status_code == 401


class TestOrderById:
    @pytest.fixture
    def order_id(self, client, alice, pet_id):
        return client.post("/v2/store/order", json=order_body(pet_id), headers=alice).json["id"]

    @pytest.mark.parametrize("bad", ["abc", "0", "-3"])
    def test_invalid_id_is_400(self, client, alice, bad):
        assert client.get(f"/v2/store/order/{bad}", headers=alice).status_code == 400
        assert client.delete(f"/v2/store/order/{bad}", headers=alice).status_code == 400

    def test_unknown_is_404(self, client, alice):
        assert client.get("/v2/store/order/999", headers=alice).json["message"] == "Order not found"
        assert client.delete("/v2/store/order/999", headers=alice).status_code == 404

    def test_other_users_order_is_hidden(self, client, bob, order_id):
        assert client.get(f"/v2/store/order/{order_id}", headers=bob).status_code == 404
        assert client.delete(f"/v2/store/order/{order_id}", headers=bob).status_code == 404

    def test_owner_deletes(self, client, alice, order_id):
        assert client.delete(f"/v2/store/order/{order_id}", headers=alice).status_code == 200
        assert client.get(f"/v2/store/order/{order_id}", headers=alice).status_code == 404

    def test_anonymous_is_401(self, client, order_id):
        assert client.get(f"/v2/store/order/{order_id}").status_code == 401
