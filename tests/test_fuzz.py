"""Property-based testing of the whole API from its own OpenAPI document (schemathesis).

Every operation gets valid (positive) and invalid (negative) generated requests, signed in
with a token so protected operations run past authentication. The checks: no 5xx; status,
content type, headers and body as documented; no request the document calls invalid is
accepted. (Not checked: that every schema-valid request is accepted, since the seed answers
400 to well-formed but wrong credentials and unknown ids.) The budget is bounded
(``FUZZ_EXAMPLES`` per operation and mode, no shrinking, no example database), so the module
takes well under a minute.

A failure found here becomes a test in ``test_regressions.py`` plus a fix in the service.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance

from helpers import Api, base_config, bearer, drop_schema, serving_app

pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    app = serving_app(base_config(tmp_path_factory.mktemp("fuzz")))
    api = Api(app.test_client())
    api.signup("fuzzer")
    app.config["FUZZ_TOKEN"] = api.login("fuzzer")
    api.add_pet(bearer(app.config["FUZZ_TOKEN"]), id=1)
    yield app
    drop_schema(app)


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/v2/openapi.json", fuzz_app)
    schema.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=FUZZ_EXAMPLES, no_shrink=True, database="none",
        with_security_parameters=False)  # the test signs every request in itself
    return schema


def operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_api_conforms_to_its_document(fuzz_app, fuzz_schema, mode):
    # schemathesis' own pytest plugin does not run under pytest 9 (it reads a removed
    # attribute), so each operation gets a plain hypothesis test here.
    failures = []
    for operation in operations(fuzz_schema):

        @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case):
            token = fuzz_app.config["FUZZ_TOKEN"]
            if case.operation.path.endswith("/user/logout") or (
                    case.method == "DELETE" and case.operation.path.endswith("/{username}")):
                # Keep the shared token and account alive: use a spare token there.
                token = Api(fuzz_app.test_client()).login("fuzzer")
            case.call_and_validate(headers=bearer(token),
                                   excluded_checks=[positive_data_acceptance])

        try:
            run()
        except Unsatisfiable:
            pass  # negative mode: nothing in this operation can be made invalid
        except Exception as exc:  # report every operation, not only the first to fail
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
