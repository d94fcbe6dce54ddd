"""The docs: Swagger UI's assets served from the installed package (no CDN)."""

from __future__ import annotations

from flask import Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path


def init_app(app: Flask) -> None:
    @app.route(app.config["API_PREFIX"] + "/docs/assets/<path:filename>")
    def swagger_ui_assets(filename):
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
