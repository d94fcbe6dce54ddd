"""``GET /v2/swagger.json``: the service's own OpenAPI 3 document, said again in Swagger 2.0
for the generators and tools that still expect it.

The conversion is mechanical (one function per part of the document) and reads only the
OpenAPI 3 document flask-smorest builds, so every route, whoever adds it, appears in both.
Swagger 2.0 has one host and base path per document: they are the request's own (a site
that mounts the API under ``/api`` gets ``basePath: /api/v2``). The Petstore operations are
filed under the official tags ``pet``, ``store`` and ``user``, and their bodies and answers
are offered as XML too, as the official definition does.
"""

from __future__ import annotations

import copy

# The official definition's tags, by the first segment of the path under the API prefix.
OFFICIAL_TAGS = {"pet": "Everything about your Pets", "store": "Access to Petstore orders",
                 "user": "Operations about user"}
JSON, XML = "application/json", "application/xml"
# Keys of a Schema Object that Swagger 2.0 does not know.
OPENAPI3_ONLY = ("nullable", "oneOf", "anyOf", "not", "writeOnly", "deprecated")
PARAMETER_SCHEMA_KEYS = ("type", "format", "items", "enum", "default", "minimum", "maximum",
                         "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                         "pattern", "minItems", "maxItems", "uniqueItems")


def _refs(value):
    """Rewrite ``#/components/schemas/X`` to ``#/definitions/X`` and drop what 2.0 lacks."""
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                converted[key] = item.replace("#/components/schemas/", "#/definitions/")
            elif key == "default" and item is None:
                continue  # a null default: 2.0 has no nulls
            elif key in OPENAPI3_ONLY:
                if key == "nullable" and item:
                    converted["x-nullable"] = True
            else:
                converted[key] = _refs(item)
        return converted
    if isinstance(value, list):
        return [_refs(item) for item in value]
    return value


def _items(schema: dict) -> dict:
    """A non-body parameter's type, from its schema (``items`` must not be a reference)."""
    out = {key: _refs(schema[key]) for key in PARAMETER_SCHEMA_KEYS if key in schema}
    if out.get("type") == "array":
        out["items"] = _items(schema.get("items") or {"type": "string"})
    out.setdefault("type", "string")
    return out


def _parameter(parameter: dict) -> dict:
    out = {key: parameter[key] for key in ("name", "in", "description", "required")
           if key in parameter}
    out.update(_items(parameter.get("schema", {})))
    if out.get("type") == "array" and parameter["in"] in ("query", "formData"):
        out["collectionFormat"] = "multi" if parameter.get("explode", True) else "csv"
    elif out.get("type") == "array":
        out["collectionFormat"] = "csv"
    return out


def _form_parameters(schema: dict, definitions: dict) -> list[dict]:
    if "$ref" in schema:
        schema = definitions.get(schema["$ref"].rsplit("/", 1)[1], {})
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        parameter = {"name": name, "in": "formData", "required": name in required}
        if "description" in prop:
            parameter["description"] = prop["description"]
        if prop.get("format") == "binary":
            parameter["type"] = "file"
        else:
            parameter.update(_items(prop))
        parameters.append(parameter)
    return parameters


def _response(response: dict, responses: dict) -> dict:
    if "$ref" in response:
        response = responses.get(response["$ref"].rsplit("/", 1)[1], {})
    out = {"description": response.get("description", "")}
    content = response.get("content") or {}
    if content:
        media = content.get(JSON) or next(iter(content.values()))
        if "schema" in media:
            schema = media["schema"]
            binary = schema.get("format") == "binary"
            out["schema"] = ({"type": "string", "format": "binary"} if binary
                             else _refs(schema))
    if response.get("headers"):
        out["headers"] = {name: {**_items(header.get("schema", {})),
                                 **({"description": header["description"]}
                                    if "description" in header else {})}
                          for name, header in response["headers"].items()}
    return out


def _operation(operation: dict, path_parameters: list, openapi: dict, tag: str | None,
               definitions: dict) -> dict:
    components = openapi.get("components", {})
    out = {key: copy.deepcopy(operation[key])
           for key in ("summary", "description", "operationId", "security", "deprecated")
           if key in operation}
    out["tags"] = [tag] if tag else operation.get("tags", [])
    parameters = [_parameter(p) for p in path_parameters + operation.get("parameters", [])]
    consumes = []
    body = operation.get("requestBody")
    if body:
        content = body.get("content", {})
        consumes = list(content)
        form = content.get("multipart/form-data") or content.get(
            "application/x-www-form-urlencoded")
        if form is not None:
            parameters += _form_parameters(form.get("schema", {}), definitions)
        else:
            media = content.get(JSON) or next(iter(content.values()))
            parameters.append({"name": "body", "in": "body", "required": body.get("required",
                                                                                   False),
                               "description": body.get("description", ""),
                               "schema": _refs(media.get("schema", {}))})
            if tag and JSON in consumes and XML not in consumes:
                consumes.append(XML)
    if consumes:
        out["consumes"] = consumes
    produces = sorted({ct for response in operation.get("responses", {}).values()
                       for ct in (response.get("content") or {})}) or [JSON]
    if tag and JSON in produces and XML not in produces:
        produces.append(XML)
    out["produces"] = produces
    if parameters:
        out["parameters"] = parameters
    out["responses"] = {code: _response(response, components.get("responses", {}))
                        for code, response in operation.get("responses", {}).items()}
    return out


def _security_definitions(schemes: dict, token_url: str) -> dict:
    out = {}
    for name, scheme in schemes.items():
        kind = scheme.get("type")
        described = {"description": scheme["description"]} if "description" in scheme else {}
        if kind == "apiKey":
            out[name] = {"type": "apiKey", "name": scheme["name"], "in": scheme["in"],
                         **described}
        elif kind == "http" and scheme.get("scheme") == "basic":
            out[name] = {"type": "basic", **described}
        elif kind == "http":  # bearer: a header Swagger 2.0 can only call an API key
            out[name] = {"type": "apiKey", "name": "Authorization", "in": "header",
                         "description": "`Bearer <token>`"}
        elif kind == "oauth2":
            flow = scheme.get("flows", {}).get("password", {})
            out[name] = {"type": "oauth2", "flow": "password", "tokenUrl": token_url,
                         "scopes": flow.get("scopes", {})}
    return out


def swagger2(openapi: dict, *, api_prefix: str, host: str, base_path: str,
             scheme: str) -> dict:
    """The Swagger 2.0 form of ``openapi``, whose paths start with ``api_prefix`` (Swagger
    2.0 puts the prefix, and whatever the site mounts the API under, in ``basePath``)."""
    prefix = api_prefix
    definitions = _refs(copy.deepcopy(openapi.get("components", {}).get("schemas", {})))
    paths = {}
    for path, item in openapi.get("paths", {}).items():
        relative = path[len(prefix):] if prefix and path.startswith(prefix) else path
        segment = relative.strip("/").split("/", 1)[0]
        tag = segment if segment in OFFICIAL_TAGS else None
        path_parameters = item.get("parameters", [])
        paths[relative or "/"] = {
            method: _operation(operation, path_parameters, openapi, tag, definitions)
            for method, operation in item.items()
            if method in ("get", "put", "post", "delete", "patch", "options", "head")}
    used = {tag for item in paths.values() for op in item.values() for tag in op["tags"]}
    tags = [{"name": name, "description": description}
            for name, description in OFFICIAL_TAGS.items()]
    tags += [tag for tag in openapi.get("tags", []) if tag["name"] in used
             and tag["name"] not in OFFICIAL_TAGS]
    document = {
        "swagger": "2.0",
        "info": copy.deepcopy(openapi.get("info", {})),
        "host": host,
        "basePath": base_path,
        "schemes": [scheme],
        "consumes": [JSON, XML],
        "produces": [JSON, XML],
        "tags": tags,
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": _security_definitions(
            openapi.get("components", {}).get("securitySchemes", {}),
            f"{scheme}://{host}{base_path}/oauth/token"),
    }
    if "externalDocs" in openapi:
        document["externalDocs"] = openapi["externalDocs"]
    return document
