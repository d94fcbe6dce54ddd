"""End to end through a client *generated* from the service's own OpenAPI document.

`openapi-python-client` turns ``/v2/openapi.json`` (fetched from a real waitress server) into a
Python package at test time, and each test drives one main flow with it. The client raises on
any status the document does not declare for an operation and parses every body with the
document's models, so a wrong document fails here: fix the document (the flask-smorest
decorators and schemas), not these tests.

Operation modules follow the tag and the path (``op(gen, "booking", "post_bookings")``);
a new flow is one more test: sign up with ``signed_in`` and call them.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from helpers import OWN_SQLITE_FILE, PNG, TEST_DATABASE_URL, waitress_on_sqlite

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(bool(TEST_DATABASE_URL), reason=OWN_SQLITE_FILE)]

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "timekit_generated_client"

# The generator knows JSON, text and application/octet-stream responses only; the image
# route's image/* responses are valid OpenAPI, so map them instead of changing the document.
# No post-hooks: formatting the generated code (ruff) is not needed to import it.
GENERATOR_CONFIG = {"post_hooks": [], "content_type_overrides": {
    ct: "application/octet-stream" for ct in ("image/png", "image/jpeg", "image/gif",
                                              "image/webp")}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with waitress_on_sqlite(tmp_path_factory.mktemp("generated-client-db")) as live:
        yield live


@pytest.fixture(scope="module")
def gen(server, tmp_path_factory):
    """The generated package, built from the document the running server serves."""
    folder = tmp_path_factory.mktemp("generated-client")
    document = folder / "openapi.json"
    document.write_text(requests.get(server.url + "/openapi.json", timeout=10).text)
    config = folder / "config.json"
    config.write_text(json.dumps(GENERATOR_CONFIG))
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(document), "--config", str(config),
         "--meta", "none", "--output-path", str(folder / PACKAGE)],
        cwd=folder, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Anything the generator could not understand would be silently missing from the client.
    assert "Warning" not in output and "WARNING" not in output, output
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def op(gen, tag: str, name: str):
    """A generated operation module, e.g. ``op(gen, "booking", "add_pet")``."""
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def models(gen):
    return importlib.import_module(f"{PACKAGE}.models")


def anonymous(gen, server):
    return gen.Client(base_url=server.url.removesuffix("/v2"), raise_on_unexpected_status=True)


def signed_in(gen, server, *, header: str = "api_key"):
    """Sign up a fresh user and sign in with ``GET /user/login``; the token goes in ``header``
    (the seed's ``api_key`` through waitress, or ``Authorization`` as Bearer)."""
    m = models(gen)
    client = anonymous(gen, server)
    name = "u" + uuid.uuid4().hex[:12]
    created = op(gen, "user", "create_user").sync(client=client, body=m.User(
        username=name, password="pw-" + name, email=f"{name}@example.com"))
    assert isinstance(created, m.UserResponse) and created.username == name
    token = op(gen, "user", "login_user").sync(client=client, username=name,
                                                      password="pw-" + name)
    assert isinstance(token, str) and token
    prefix = "" if header == "api_key" else "Bearer"
    authed = gen.AuthenticatedClient(base_url=client._base_url, token=token, prefix=prefix,
                                     auth_header_name=header, raise_on_unexpected_status=True)
    return name, authed


def test_sign_up_and_sign_in_every_way(gen, server):
    m = models(gen)
    name, client = signed_in(gen, server)
    me = op(gen, "user", "get_user_by_name").sync(username=name, client=client)
    assert isinstance(me, m.UserResponse) and me.email == f"{name}@example.com"

    auth = op(gen, "authentication", "authenticate").sync(
        client=anonymous(gen, server),
        body=m.AuthRequest(email=f"{name}@example.com", password="pw-" + name))
    assert isinstance(auth, m.AuthResponse) and auth.data.email == f"{name}@example.com"
    bearer = gen.AuthenticatedClient(base_url=client._base_url, token=auth.data.api_token,
                                     raise_on_unexpected_status=True)
    updated = op(gen, "user", "update_user").sync(
        username=name, client=bearer, body=m.UserUpdate(username=name, first_name="Ada"))
    assert isinstance(updated, m.UserResponse) and updated.first_name == "Ada"

    wrong = op(gen, "authentication", "authenticate").sync_detailed(
        client=anonymous(gen, server), body=m.AuthRequest(email=f"{name}@example.com",
                                                          password="nope"))
    assert wrong.status_code == 401 and isinstance(wrong.parsed, m.Error)

    assert isinstance(op(gen, "user", "logout_user").sync(client=client), m.ApiResponse)
    after = op(gen, "user", "get_user_by_name").sync_detailed(username=name, client=client)
    assert after.status_code == 401 and isinstance(after.parsed, m.Error)


def test_pet_flow(gen, server):
    m = models(gen)
    _, client = signed_in(gen, server)
    tag = "t" + uuid.uuid4().hex[:8]
    pet = op(gen, "booking", "add_pet").sync(client=client, body=m.Pet(
        name="doggie", photo_urls=["u1"], status=m.PetStatus.AVAILABLE,
        category=m.Category(name="Dogs"), tags=[m.Tag(name=tag)]))
    assert isinstance(pet, m.Pet) and pet.id >= 1 and pet.tags[0].name == tag

    found = op(gen, "booking", "find_pets_by_status").sync(
        client=client, status=[m.FindPetsByStatusStatusItem.AVAILABLE])
    assert pet.id in [p.id for p in found]
    by_tag = op(gen, "booking", "find_pets_by_tags").sync(client=client, tags=[tag])
    assert [p.id for p in by_tag] == [pet.id]

    pet.name, pet.status = "rex", m.PetStatus.PENDING
    updated = op(gen, "booking", "update_pet").sync(client=client, body=pet)
    assert isinstance(updated, m.Pet) and (updated.name, updated.status) == ("rex", "pending")
    form = op(gen, "booking", "update_pet_with_form").sync(
        pet.id, client=client, body=m.PetForm(name="max", status=m.PetFormStatus.SOLD))
    assert isinstance(form, m.ApiResponse)
    got = op(gen, "booking", "get_pet_by_id").sync(pet.id, client=client)
    assert (got.name, got.status) == ("max", "sold")

    uploaded = op(gen, "booking", "upload_file").sync(
        pet.id, client=client, body=m.PetUpload(
            file=gen.types.File(payload=io.BytesIO(PNG), file_name="a.png",
                                mime_type="image/png"),
            additional_metadata="front"))
    assert isinstance(uploaded, m.ApiResponse) and "front" in uploaded.message
    image_url = op(gen, "booking", "get_pet_by_id").sync(pet.id, client=client).photo_urls[-1]
    image = requests.get(server.url.removesuffix("/v2") + image_url, timeout=10)
    assert image.headers["Content-Type"] == "image/png" and image.content == PNG

    deleted = op(gen, "booking", "delete_pet").sync(pet.id, client=client)
    assert isinstance(deleted, m.ApiResponse)
    gone = op(gen, "booking", "get_pet_by_id").sync_detailed(pet.id, client=client)
    assert gone.status_code == 404 and isinstance(gone.parsed, m.Error)


def test_store_order_flow(gen, server):
    m = models(gen)
    _, client = signed_in(gen, server, header="Authorization")
    pet = op(gen, "booking", "add_pet").sync(client=client, body=m.Pet(name="cat",
                                                                      photo_urls=[]))
    inventory = op(gen, "store", "get_inventory").sync(client=anonymous(gen, server))
    assert isinstance(inventory, m.GetInventoryResponse200)  # a map, as the official one

    order = op(gen, "store", "place_order").sync(client=client, body=m.Order(
        pet_id=pet.id, quantity=2, status=m.OrderStatus.PLACED))
    assert isinstance(order, m.Order) and order.id >= 1 and order.quantity == 2
    got = op(gen, "store", "get_order_by_id").sync(order.id, client=client)
    assert isinstance(got, m.Order) and got.pet_id == pet.id
    deleted = op(gen, "store", "delete_order").sync(order.id, client=client)
    assert isinstance(deleted, m.ApiResponse)
    gone = op(gen, "store", "get_order_by_id").sync_detailed(order.id, client=client)
    assert gone.status_code == 404


def test_oauth_password_grant(gen, server):
    m = models(gen)
    name, _ = signed_in(gen, server)
    token = op(gen, "authentication", "issue_o_auth_token").sync(
        client=anonymous(gen, server), body=m.OAuthTokenRequest(
            grant_type="password", username=name, password="pw-" + name, scope="read:pets"))
    assert isinstance(token, m.OAuthTokenResponse) and token.scope == "read:pets"
    client = gen.AuthenticatedClient(base_url=server.url.removesuffix("/v2"),
                                     token=token.access_token, raise_on_unexpected_status=True)
    refused = op(gen, "booking", "add_pet").sync_detailed(
        client=client, body=m.Pet(name="x", photo_urls=[]))
    assert refused.status_code == 403 and isinstance(refused.parsed, m.Error)


def test_booking_flow(gen, server):
    m = models(gen)
    _, owner = signed_in(gen, server)
    _, booker = signed_in(gen, server, header="Authorization")
    pet = op(gen, "booking", "add_pet").sync(client=owner, body=m.Pet(name="dog",
                                                                         photo_urls=[]))
    # inside the pet's default settings: confirm_decline, within 6 months
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).replace(minute=0, second=0,
                                                                    microsecond=0)
    created = op(gen, "booking", "post_bookings").sync(client=booker, body=m.BookingCreate(
        graph=m.BookingCreateGraph.CONFIRM_DECLINE, action="create", resource_id=pet.id,
        start=start, end=start + dt.timedelta(hours=1), what="Walk",
        customer=m.Customer(name="Marty", email="marty@example.com")))
    assert isinstance(created, m.BookingEnvelope) and created.data.state == "tentative"
    booking_id = created.data.id

    act = op(gen, "booking", "put_booking_action")
    wrong = act.sync_detailed(booking_id, "complete", client=booker)
    assert wrong.status_code in (403, 409) and isinstance(wrong.parsed, m.Error)
    confirmed = act.sync(booking_id, "confirm", client=owner,
                         body=m.ActionBody.from_dict({"confirm": {"message": "see you"}}))
    assert confirmed.data.state == "confirmed" and "cancel" in confirmed.data.available_actions
    cancelled = act.sync(booking_id, "cancel", client=booker)
    assert (cancelled.data.state, cancelled.data.completed) == ("cancelled", True)

    got = op(gen, "booking", "get_booking_by_id").sync(booking_id, client=owner)
    assert got.data.state == "cancelled"
    page = op(gen, "booking", "get_bookings").sync(client=booker)
    assert booking_id in [b.id for b in page.data]
    deleted = op(gen, "booking", "delete_booking_by_id").sync_detailed(
        booking_id, client=booker)
    assert deleted.status_code == 204


def test_api_key_and_idempotent_retry(gen, server):
    """Issue 17: a script creates an API key once, signs in with it, and retries a POST
    safely; the generated functions take the ``Idempotency-Key`` header as a parameter."""
    m = models(gen)
    _, login = signed_in(gen, server, header="Authorization")
    create_key = op(gen, "authentication", "create_credential")
    add_pet = op(gen, "booking", "add_pet")
    for module in (create_key, add_pet, op(gen, "store", "place_order"),
                   op(gen, "user", "create_user"), op(gen, "booking", "post_bookings")):
        assert "idempotency_key" in inspect.signature(module.sync_detailed).parameters

    created = create_key.sync_detailed(client=login, body=m.CredentialCreate(name="ci"),
                                       idempotency_key="create-key-1")
    assert created.status_code == 201
    again = create_key.sync_detailed(client=login, body=m.CredentialCreate(name="ci"),
                                     idempotency_key="create-key-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.parsed.data.key == created.parsed.data.key
    key = created.parsed.data.key
    assert key.startswith("live_api_key_")
    client = gen.AuthenticatedClient(base_url=login._base_url, token=key, prefix="",
                                     auth_header_name="api_key",
                                     raise_on_unexpected_status=True)

    body = m.Pet(name="retried", photo_urls=[])
    first = add_pet.sync_detailed(client=client, body=body, idempotency_key="pet-1")
    retry = add_pet.sync_detailed(client=client, body=body, idempotency_key="pet-1")
    assert first.status_code == retry.status_code == 200
    assert retry.parsed.id == first.parsed.id
    assert retry.headers["Idempotent-Replayed"] == "true"
    other = add_pet.sync_detailed(client=client, body=m.Pet(name="x", photo_urls=[]),
                                  idempotency_key="pet-1")
    assert other.status_code == 422 and isinstance(other.parsed, m.Error)

    keys = op(gen, "authentication", "list_credentials").sync(client=login)
    assert [k.id for k in keys.data] == [created.parsed.data.id]
    deleted = op(gen, "authentication", "delete_credential").sync(
        created.parsed.data.id, client=login)
    assert isinstance(deleted, m.ApiResponse)
    refused = add_pet.sync_detailed(client=client, body=body)
    assert refused.status_code == 401
