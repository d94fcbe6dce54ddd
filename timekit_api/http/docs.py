"""The docs: Swagger UI's assets served from the installed package (no CDN), and the
Swagger 2.0 form of the OpenAPI document (``swagger.py``)."""

from __future__ import annotations

from flask import Flask, jsonify, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from .swagger import swagger2


def init_app(app: Flask) -> None:
    @app.route(app.config["API_PREFIX"] + "/docs/assets/<path:filename>")
    def swagger_ui_assets(filename):
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    prefix = app.config["API_PREFIX"]

    @app.route(prefix + "/swagger.json")
    def swagger_json():
        openapi = app.extensions["timekit_api.openapi"].spec.to_dict()
        return jsonify(swagger2(openapi, api_prefix=prefix, host=request.host,
                                base_path=request.script_root + prefix,
                                scheme=request.scheme))
