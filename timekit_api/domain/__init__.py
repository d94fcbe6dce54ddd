"""Domain logic free of Flask, SQLAlchemy and the rest of the app, so it can be tested alone."""
