"""Booking tag, pet operations, through Flask's test client."""

import io

import pytest

from helpers import PNG

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40


def pet_body(**fields):
    return {"name": "doggie", "photoUrls": ["url1"], **fields}


class TestAddPet:
    def test_creates_pet_with_server_id_and_returns_it(self, client, alice):
        body = pet_body(category={"id": 1, "name": "Dogs"}, tags=[{"id": 5, "name": "cute"}],
                        status="available")
        response = client.post("/v2/pet", json=body, headers=alice)
        assert response.status_code == 200
        pet = response.json
        assert pet["id"] >= 1
        assert pet == {"id": pet["id"], "category": {"id": 1, "name": "Dogs"}, "name": "doggie",
                       "photoUrls": ["url1"], "tags": [{"id": 5, "name": "cute"}],
                       "status": "available"}
        assert client.get(f"/v2/pet/{pet['id']}").json == pet

    @pytest.mark.parametrize("given", [0, -5])
    def test_id_below_one_is_assigned_by_server(self, client, alice, given):
        pet = client.post("/v2/pet", json=pet_body(id=given), headers=alice).json
        assert pet["id"] >= 1

    def test_client_chosen_id_is_kept(self, client, alice):
        assert client.post("/v2/pet", json=pet_body(id=4242), headers=alice).json["id"] == 4242

    def test_existing_id_conflicts(self, client, alice):
        client.post("/v2/pet", json=pet_body(id=7), headers=alice)
        response = client.post("/v2/pet", json=pet_body(id=7, name="other"), headers=alice)
        assert response.status_code == 409
        assert response.json["type"] == "error"
        assert client.get("/v2/pet/7").json["name"] == "doggie"

    @pytest.mark.parametrize("body, field", [
        ({"photoUrls": []}, "name"),
        ({"name": "x"}, "photoUrls"),
        (pet_body(status="lost"), "status"),
        (pet_body(id="12"), "id"),
        (pet_body(id=2**63), "id"),
        (pet_body(name=7), "name"),
        (pet_body(tags="a"), "tags"),
        (pet_body(extra=1), "extra"),
        (pet_body(category={"id": 1, "name": "x", "color": "red"}), "category.color"),
        (pet_body(category="dog"), "category"),
        (pet_body(tags=[{"name": "a"}, 3]), "tags[1]"),
        (pet_body(name=""), "name"),
        (pet_body(name="x" * 256), "name"),
        (pet_body(photoUrls=["u"] * 101), "photoUrls"),
        (pet_body(photoUrls=["u" * 2049]), "photoUrls[0]"),
        (pet_body(tags=[{"name": "t"}] * 101), "tags"),
    ])
    def test_invalid_body_is_405_naming_the_field(self, client, alice, body, field):
        response = client.post("/v2/pet", json=body, headers=alice)
        assert response.status_code == 405
        assert response.json["code"] == 405
        assert field in response.json["errors"]

    def test_messages_name_the_wire_field_and_what_is_expected(self, client, alice):
        response = client.post("/v2/pet", json=pet_body(tags=[3], category="dog"),
                               headers=alice)
        assert response.json["errors"] == {"tags[0]": ["Expected an object {id, name}."],
                                           "category": ["Expected an object {id, name}."]}

    def test_body_that_is_not_json_is_415(self, client, alice):
        response = client.post("/v2/pet", data="name=x", headers=alice,
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415
        assert response.json["type"] == "error"

    def test_malformed_json_is_400(self, client, alice):
        response = client.post("/v2/pet", data="{nope", headers=alice,
                               content_type="application/json")
        assert response.status_code == 400

    def test_anonymous_is_401(self, client):
        response = client.post("/v2/pet", json=pet_body())
        assert response.status_code == 401
        assert "WWW-Authenticate" in response.headers

    def test_category_and_tags_are_values_stored_as_sent(self, client, alice):
        """Sample tests send random ids with fixed names: no combination is a conflict, and
        no pet's write changes another pet."""
        bodies = [pet_body(category={"id": 7, "name": "dog"}, tags=[{"id": 1, "name": "a"}]),
                  pet_body(category={"id": 1234, "name": "dog"}, tags=[{"id": 9, "name": "a"}]),
                  pet_body(category={"id": 7, "name": "cat"}, tags=[{"name": "a"}, {"id": 3}]),
                  pet_body(category={}, tags=[]),
                  pet_body()]
        stored = []
        for body in bodies:
            response = client.post("/v2/pet", json=body, headers=alice)
            assert response.status_code == 200, response.json
            stored.append(response.json)
        for body, pet in zip(bodies, stored, strict=True):
            assert {k: v for k, v in pet.items() if k != "id"} == body
            assert client.get(f"/v2/pet/{pet['id']}").json == pet

    def test_duplicate_tags_are_kept_as_sent_and_found_once(self, client, alice):
        pet = client.post("/v2/pet", json=pet_body(tags=[{"name": "a"}, {"name": "a"}]),
                          headers=alice).json
        assert pet["tags"] == [{"name": "a"}, {"name": "a"}]
        assert [p["id"] for p in client.get("/v2/pet/findByTags?tags=a").json] == [pet["id"]]


class TestUpdatePet:
    def test_owner_updates(self, client, api, alice):
        pet = api.add_pet(alice)
        body = pet_body(id=pet["id"], name="rex", status="sold", tags=[{"name": "t"}])
        response = client.put("/v2/pet", json=body, headers=alice)
        assert response.status_code == 200
        assert response.json["name"] == "rex"
        assert client.get(f"/v2/pet/{pet['id']}").json["status"] == "sold"

    def test_unknown_id_is_404_not_created(self, client, alice):
        response = client.put("/v2/pet", json=pet_body(id=999), headers=alice)
        assert response.status_code == 404
        assert response.json["message"] == "Pet not found"
        assert client.get("/v2/pet/999").status_code == 404

    @pytest.mark.parametrize("pet_id", [None, 0, -1])
    def test_missing_or_bad_id_is_400(self, client, alice, pet_id):
        body = pet_body() if pet_id is None else pet_body(id=pet_id)
        assert client.put("/v2/pet", json=body, headers=alice).status_code == 400

    def test_invalid_body_is_405(self, client, api, alice):
        pet = api.add_pet(alice)
        response = client.put("/v2/pet", json={"id": pet["id"], "name": "x"}, headers=alice)
        assert response.status_code == 405

    def test_other_user_is_403_and_nothing_changes(self, client, api, alice, bob):
        pet = api.add_pet(alice)
        response = client.put("/v2/pet", json=pet_body(id=pet["id"], name="stolen"), headers=bob)
        assert response.status_code == 403
        assert client.get(f"/v2/pet/{pet['id']}").json["name"] == "doggie"


class TestFindByStatus:
    @pytest.fixture
    def pets(self, api, alice):
        return {status: api.add_pet(alice, name=status, status=status)["id"]
                for status in ("available", "pending", "sold")}

    def test_default_is_available(self, client, pets):
        assert [p["id"] for p in client.get("/v2/pet/findByStatus").json] == [pets["available"]]

    def test_repeated_and_comma_separated_union(self, client, pets):
        response = client.get("/v2/pet/findByStatus?status=sold&status=pending,available")
        assert sorted(p["id"] for p in response.json) == sorted(pets.values())

    def test_unknown_status_is_400(self, client, pets):
        response = client.get("/v2/pet/findByStatus?status=lost")
        assert response.status_code == 400
        assert "status[0]" in response.json["errors"]

    def test_full_pet_objects_are_returned(self, client, api, alice):
        api.add_pet(alice, tags=[{"name": "x"}], category={"name": "C"})
        [pet] = client.get("/v2/pet/findByStatus?status=available").json
        assert pet["tags"][0]["name"] == "x" and pet["category"]["name"] == "C"


class TestFindByTags:
    def test_each_match_once(self, client, api, alice):
        both = api.add_pet(alice, tags=[{"name": "a"}, {"name": "b"}])["id"]
        only_b = api.add_pet(alice, tags=[{"name": "b"}])["id"]
        api.add_pet(alice, tags=[{"name": "c"}])
        found = client.get("/v2/pet/findByTags?tags=a,b").json
        assert [p["id"] for p in found] == [both, only_b]
        found = client.get("/v2/pet/findByTags?tags=a&tags=b").json
        assert [p["id"] for p in found] == [both, only_b]

    def test_tags_are_required(self, client):
        assert client.get("/v2/pet/findByTags").status_code == 400
        assert client.get("/v2/pet/findByTags?tags=").status_code == 400

    def test_unknown_tag_finds_nothing(self, client):
        assert client.get("/v2/pet/findByTags?tags=zzz").json == []


class TestGetPet:
    @pytest.mark.parametrize("pet_id", ["abc", "0", "-1", "1.5", str(2**63)])
    def test_bad_id_is_400(self, client, pet_id):
        response = client.get(f"/v2/pet/{pet_id}")
        assert response.status_code == 400
        assert response.json["message"] == "Invalid ID supplied"

    def test_unknown_is_404(self, client):
        assert client.get("/v2/pet/12345").json == {
            "code": 404, "type": "error", "message": "Pet not found"}


class TestFormUpdate:
    def test_updates_name_and_status(self, client, api, alice):
        pet = api.add_pet(alice)
        response = client.post(f"/v2/pet/{pet['id']}", data={"name": "neo", "status": "sold"},
                               headers=alice)
        assert response.status_code == 200
        assert response.json["code"] == 200
        got = client.get(f"/v2/pet/{pet['id']}").json
        assert (got["name"], got["status"]) == ("neo", "sold")

    def test_multipart_form_works_too(self, client, api, alice):
        pet = api.add_pet(alice)
        response = client.post(f"/v2/pet/{pet['id']}", data={"name": "multi"}, headers=alice,
                               content_type="multipart/form-data")
        assert response.status_code == 200
        assert client.get(f"/v2/pet/{pet['id']}").json["name"] == "multi"

    def test_invalid_status_is_405(self, client, api, alice):
        pet = api.add_pet(alice)
        response = client.post(f"/v2/pet/{pet['id']}", data={"status": "lost"}, headers=alice)
        assert response.status_code == 405

    def test_unknown_pet_is_404(self, client, alice):
        assert client.post("/v2/pet/999", data={"name": "x"}, headers=alice).status_code == 404

    def test_other_user_is_403(self, client, api, alice, bob):
        pet = api.add_pet(alice)
        assert client.post(f"/v2/pet/{pet['id']}", data={"name": "x"},
                           headers=bob).status_code == 403


class TestDeletePet:
    def test_owner_deletes(self, client, api, alice):
        pet = api.add_pet(alice)
        response = client.delete(f"/v2/pet/{pet['id']}", headers=alice)
        assert response.status_code == 200
        assert client.get(f"/v2/pet/{pet['id']}").status_code == 404

    def test_api_key_header_authenticates(self, client, api):
        api.signup("carol")
        token = api.login("carol")
        pet = api.add_pet({"api_key": token})
        assert client.delete(f"/v2/pet/{pet['id']}", headers={"api_key": token}).status_code == 200

    def test_errors(self, client, api, alice, bob):
        pet = api.add_pet(alice)
        assert client.delete("/v2/pet/abc", headers=alice).status_code == 400
        assert client.delete("/v2/pet/999", headers=alice).status_code == 404
        assert client.delete(f"/v2/pet/{pet['id']}", headers=bob).status_code == 403
        assert client.delete(f"/v2/pet/{pet['id']}").status_code == 401


class TestUploadImage:
    def upload(self, client, pet_id, headers, data=PNG, name="a.png", meta="front"):
        return client.post(f"/v2/pet/{pet_id}/uploadImage", headers=headers,
                           data={"additionalMetadata": meta, "file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")

    def test_stores_image_and_serves_it(self, client, api, alice):
        pet = api.add_pet(alice)
        response = self.upload(client, pet["id"], alice)
        assert response.status_code == 200
        assert response.json["code"] == 200 and "front" in response.json["message"]
        url = client.get(f"/v2/pet/{pet['id']}").json["photoUrls"][-1]
        image = client.get(url)
        assert image.status_code == 200
        assert image.data == PNG
        assert image.mimetype == "image/png"

    def test_content_type_comes_from_bytes_not_name(self, client, api, alice):
        pet = api.add_pet(alice)
        self.upload(client, pet["id"], alice, data=JPEG, name="../../etc/passwd.png")
        url = client.get(f"/v2/pet/{pet['id']}").json["photoUrls"][-1]
        assert client.get(url).mimetype == "image/jpeg"

    def test_non_image_is_400(self, client, api, alice):
        pet = api.add_pet(alice)
        response = self.upload(client, pet["id"], alice, data=b"<script>alert(1)</script>")
        assert response.status_code == 400
        assert client.get(f"/v2/pet/{pet['id']}").json["photoUrls"] == ["u"]

    @pytest.mark.parametrize(("setting", "limit", "padding"), [
        ("MAX_IMAGE_BYTES", 100, 200),  # the image is too large
        ("MAX_CONTENT_LENGTH", 1000, 5000),  # the whole body is
    ])
    def test_too_large_is_413(self, app, client, api, alice, setting, limit, padding):
        app.config[setting] = limit
        pet = api.add_pet(alice)
        response = self.upload(client, pet["id"], alice, data=PNG + b"\x00" * padding)
        assert response.status_code == 413
        assert response.json["code"] == 413

    def test_missing_file_is_400(self, client, api, alice):
        pet = api.add_pet(alice)
        response = client.post(f"/v2/pet/{pet['id']}/uploadImage", headers=alice,
                               data={"additionalMetadata": "x"},
                               content_type="multipart/form-data")
        assert response.status_code == 400
        assert "file" in response.json["errors"]

    def test_not_multipart_is_415(self, client, api, alice):
        pet = api.add_pet(alice)
        response = client.post(f"/v2/pet/{pet['id']}/uploadImage", headers=alice, json={})
        assert response.status_code == 415

    def test_unknown_pet_and_other_user(self, client, api, alice, bob):
        pet = api.add_pet(alice)
        assert self.upload(client, 999, alice).status_code == 404
        assert self.upload(client, pet["id"], bob).status_code == 403
        assert self.upload(client, pet["id"], {}).status_code == 401

    def test_unknown_image_is_404(self, client, api, alice):
        pet = api.add_pet(alice)
        assert client.get(f"/v2/pet/{pet['id']}/images/77").status_code == 404
