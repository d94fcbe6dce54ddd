"""A real host site that embeds the API under /api (tests/test_embed.py).

Served by waitress too: ``waitress-serve --call embedded_site:create_site`` (with ``tests/``
on the path; the API reads its database from ``TIMEKIT_DATABASE_URL``).
"""

from __future__ import annotations

from flask import Flask, g, jsonify

from timekit_api.embed import mount


def create_site(api_config=None) -> Flask:
    site = Flask("embedded_site")
    site.config.update(
        SECRET_KEY="the-site's-own-secret",
        SITE_NAME="Corner Pet Shop",
        MAX_CONTENT_LENGTH=1024,  # the site takes tiny bodies; the API has its own limit
    )

    @site.route("/")
    def home():
        return f"<h1>Welcome to {site.config['SITE_NAME']}</h1>"

    @site.route("/about")
    def about():
        return jsonify(site=site.config["SITE_NAME"], hooked=g.get("site_hook", False))

    @site.route("/echo", methods=["POST"])
    def echo():
        from flask import request
        return {"size": len(request.get_data())}

    @site.before_request
    def site_hook():
        g.site_hook = True

    @site.after_request
    def site_header(response):
        response.headers["X-Site"] = "corner-pet-shop"
        return response

    @site.errorhandler(404)
    def site_not_found(error):
        return "<h1>No such page in the shop</h1>", 404

    mount(site, prefix="/api", config=api_config)
    return site
