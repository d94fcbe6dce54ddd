"""Layer 3, HTTP: the request parser, the error shape, credentials on the wire, the
blueprints (``api/``), the docs' assets, health and the access log. It turns requests into
calls of the domain and the domain's answers and exceptions into responses."""
