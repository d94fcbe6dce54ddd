"""Petstore clients work unchanged, run after run (issue 11).

Clients are generated at test time by openapi-generator (PyPI ``openapi-generator-cli``,
which bundles its jar and runs on the machine's Java) from three documents:
- the OFFICIAL Petstore v2 definition (``tests/petstore-v2-swagger.json``, a copy of the
  public ``petstore.swagger.io/v2/swagger.json``),
- the service's own ``/v2/openapi.json`` (OpenAPI 3),
- the service's own ``/v2/swagger.json`` (Swagger 2.0).
Each drives the scenarios of openapi-generator's own Python petstore sample tests
(``samples/openapi3/client/petstore/python/tests/test_pet_api.py`` and
``test_store_api.py``: random ids with fixed names, add/get/update/find/form/upload/delete;
the inventory) plus the user flow, through a real waitress server, TWICE in a row against
the same database: the second run is where shared category rows used to fail.
"""

from __future__ import annotations

import importlib
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from helpers import OWN_SQLITE_FILE, TEST_DATABASE_URL, http_token, waitress_on_sqlite

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(bool(TEST_DATABASE_URL), reason=OWN_SQLITE_FILE)]

OFFICIAL = Path(__file__).with_name("petstore-v2-swagger.json")
GENERATOR = Path(sys.executable).with_name("openapi-generator-cli")
# A 1x1 GIF (the sample tests upload ``testfiles/pix.gif``).
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000"
                    "010001000002024401003b")


def java_available() -> bool:
    if shutil.which("java") and GENERATOR.exists():
        return True
    if os.environ.get("TIMEKIT_REQUIRE_JAVA"):
        raise AssertionError("TIMEKIT_REQUIRE_JAVA is set but java or the generator is missing")
    return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with waitress_on_sqlite(tmp_path_factory.mktemp("petstore-clients-db")) as live:
        yield live


@pytest.fixture(scope="module")
def clients(server, tmp_path_factory):
    """The three generated packages, imported (generated once per session: a few seconds)."""
    if not java_available():
        pytest.skip("openapi-generator needs java")
    folder = tmp_path_factory.mktemp("petstore-clients")
    sources = {"official": OFFICIAL.read_text()}
    for name in ("openapi", "swagger"):
        sources[name] = requests.get(f"{server.url}/{name}.json", timeout=10).text
    packages = {}
    for name, document in sources.items():
        spec = folder / f"{name}.json"
        spec.write_text(document)
        package = f"petstore_{name}"
        result = subprocess.run(
            [str(GENERATOR), "generate", "-g", "python", "-i", str(spec),
             "-o", str(folder / name), "--package-name", package,
             "--global-property", "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false"],
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        sys.path.insert(0, str(folder / name))
        packages[name] = importlib.import_module(package)
    yield packages
    for name in packages:
        sys.path.remove(str(folder / name))
        for module in [m for m in sys.modules if m.startswith(f"petstore_{name}")]:
            del sys.modules[module]


class Petstore:
    """One generated package pointed at the server, as a user of it would set it up."""

    def __init__(self, package, url: str, token: str, gif: Path):
        self.package = package
        configuration = package.Configuration(host=url)
        self.api_client = package.ApiClient(configuration)
        # The service requires sign-in for orders too; a default header covers every call.
        self.api_client.set_default_header("Authorization", f"Bearer {token}")
        apis = [getattr(package, name)(self.api_client) for name in dir(package)
                if name.endswith("Api") and name != "ApiClient"]
        self.pets = next(api for api in apis if hasattr(api, "add_pet"))
        self.store = next(api for api in apis if hasattr(api, "place_order"))
        self.users = next(api for api in apis if hasattr(api, "login_user"))
        self.gif = gif

    def error_status(self, call, *args, **kwargs) -> int:
        try:
            call(*args, **kwargs)
        except self.package.ApiException as error:
            return error.status
        raise AssertionError("expected an error")

    # --- openapi-generator's test_pet_api.py, its scenarios in order --------------------

    def pet_scenarios(self) -> None:
        m = self.package
        category = m.Category(id=random.getrandbits(32), name="dog")
        tag = m.Tag(id=random.getrandbits(32), name="python-pet-tag")
        pet = m.Pet(id=random.getrandbits(32), name="hello kity", status="sold",
                    photo_urls=["http://foo.bar.com/1", "http://foo.bar.com/2"],
                    category=category, tags=[tag])
        pet2 = m.Pet(id=pet.id + 1, name="superman 2", status="available",
                     photo_urls=["http://foo.bar.com/1", "http://foo.bar.com/2"],
                     category=category, tags=[tag])

        # test_add_pet_and_get_pet_by_id
        self.pets.add_pet(pet)
        fetched = self.pets.get_pet_by_id(pet_id=pet.id)
        assert fetched.id == pet.id
        assert fetched.category.name == pet.category.name
        assert fetched.category.id == category.id  # stored as sent
        assert [t.id for t in fetched.tags] == [tag.id]
        # test_add_pet_and_get_pet_by_id_with_http_info
        info = self.pets.get_pet_by_id_with_http_info(pet_id=pet.id)
        assert info.status_code == 200
        assert info.data.id == pet.id
        # test_async_exception: an unknown id is 404
        assert self.error_status(self.pets.get_pet_by_id, 9999999999999) == 404
        # test_update_pet
        pet.name = "hello kity with updated"
        self.pets.update_pet(pet)
        fetched = self.pets.get_pet_by_id(pet_id=pet.id)
        assert (fetched.name, fetched.category.name) == (pet.name, "dog")
        # test_find_pets_by_status
        self.pets.add_pet(pet2)
        results = self.pets.find_pets_by_status(status=["pending", "available"])
        assert isinstance(results, list) and len(results) >= 1
        assert pet2.id in [p.id for p in results]
        # test_find_pets_by_tags
        found = self.pets.find_pets_by_tags(tags=[tag.name, "here is another tag"])
        assert {pet.id, pet2.id} <= {p.id for p in found}
        # test_update_pet_with_form
        self.pets.update_pet_with_form(pet.id, name="hello kity with form updated abc",
                                       status="pending")
        fetched = self.pets.get_pet_by_id(pet_id=pet.id)
        assert (fetched.name, fetched.status) == ("hello kity with form updated abc", "pending")
        # test_upload_file: with and without additional metadata
        answer = self.pets.upload_file(pet.id, additional_metadata="special data 123",
                                       file=str(self.gif))
        assert answer.code == 200
        self.pets.upload_file(pet.id, file=str(self.gif))
        assert len(self.pets.get_pet_by_id(pet_id=pet.id).photo_urls) == 4
        # test_delete_pet
        self.pets.delete_pet(pet.id)
        assert self.error_status(self.pets.get_pet_by_id, pet.id) == 404
        self.pets.delete_pet(pet2.id)

    # --- test_store_api.py, and the order operations ------------------------------------

    def store_scenarios(self) -> None:
        inventory = self.store.get_inventory()
        assert isinstance(inventory, dict)
        pet_id = random.getrandbits(32)
        self.pets.add_pet(self.package.Pet(id=pet_id, name="for sale", photo_urls=[]))
        # The official definition allows getOrderById only for ids 1..10.
        order = self.package.Order(id=random.randint(1, 10), pet_id=pet_id, quantity=2,
                                   status="placed", complete=False)
        placed = self.store.place_order(order)
        assert placed.id == order.id
        fetched = self.store.get_order_by_id(order.id)
        assert (fetched.pet_id, fetched.quantity) == (pet_id, 2)
        self.store.delete_order(order.id)
        assert self.error_status(self.store.get_order_by_id, order.id) == 404
        self.pets.delete_pet(pet_id)

    # --- the user operations ------------------------------------------------------------

    def user_scenarios(self, username: str) -> None:
        user = self.package.User(id=random.getrandbits(32), username=username,
                                 first_name="Ada", last_name="L", email=f"{username}@ex.io",
                                 password="secret-password", phone="1", user_status=1)
        self.users.create_user(user)
        token = self.users.login_user(username=username, password="secret-password")
        assert isinstance(token, str) and token
        own = Petstore(self.package, self.api_client.configuration.host, token, self.gif)
        fetched = own.users.get_user_by_name(username)
        assert (fetched.username, fetched.first_name) == (username, "Ada")
        user.first_name = "Grace"
        # The service documents its update body as UserUpdate (password optional): a client
        # generated from its document takes that model, or the same fields as a dict.
        takes_user = "UserUpdate" not in str(own.users.update_user.__annotations__)
        own.users.update_user(username, user if takes_user else user.to_dict())
        assert own.users.get_user_by_name(username).first_name == "Grace"
        batch = [self.package.User(username=f"{username}-{n}", password="secret-password",
                                   email=f"{username}-{n}@ex.io") for n in (1, 2)]
        own.users.create_users_with_array_input(batch)
        for member in batch:
            member_token = self.users.login_user(username=member.username,
                                                 password="secret-password")
            Petstore(self.package, self.api_client.configuration.host, member_token,
                     self.gif).users.delete_user(member.username)
        own.users.logout_user()
        assert self.error_status(own.users.get_user_by_name, username) == 401
        token = self.users.login_user(username=username, password="secret-password")
        Petstore(self.package, self.api_client.configuration.host, token,
                 self.gif).users.delete_user(username)


@pytest.mark.parametrize("source", ["official", "openapi", "swagger"])
def test_generated_petstore_client_runs_the_sample_scenarios_twice(clients, server, source,
                                                                   tmp_path):
    gif = tmp_path / "pix.gif"
    gif.write_bytes(GIF)
    token = http_token(server.url, f"sampler-{source}")
    # The OpenAPI 3 document's paths carry the prefix; Swagger 2.0 puts it in basePath.
    host = server.url.removesuffix("/v2") if source == "openapi" else server.url
    for run in (1, 2):  # the same database, run after run
        store = Petstore(clients[source], host, token, gif)
        store.pet_scenarios()
        store.store_scenarios()
        store.user_scenarios(f"sample-user-{source}-{run % 2}")


def test_generated_clients_use_the_official_method_names(clients):
    """``add_pet``, ``login_user``, ``get_order_by_id``: not ``post_v2_pet``."""
    for package in clients.values():
        methods = {name for api in dir(package) if api.endswith("Api")
                   for name in dir(getattr(package, api))}
        assert {"add_pet", "update_pet", "find_pets_by_status", "find_pets_by_tags",
                "get_pet_by_id", "update_pet_with_form", "delete_pet", "upload_file",
                "get_inventory", "place_order", "get_order_by_id", "delete_order",
                "create_user", "create_users_with_array_input",
                "create_users_with_list_input", "login_user", "logout_user",
                "get_user_by_name", "update_user", "delete_user"} <= methods
