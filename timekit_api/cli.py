"""Command line: ``timekit-api <command>`` (or ``flask --app wsgi <command>``)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext



@click.command("init-db")
@with_appcontext
def init_db_command():
    """Bring the database to the current schema (the same as `db upgrade`).

    SQLite does this by itself on start (AUTO_CREATE_SCHEMA)."""
    from .database import upgrade_to_head

    upgrade_to_head(current_app._get_current_object())
    click.echo("Database ready.")


@click.command("load-demo")
@with_appcontext
def load_demo_command():
    """Load the Petstore sample data and the seed's Timekit user. For demos only."""
    from .demo import DEMO_PASSWORD, DOC_BROWN_PASSWORD, load_demo_data

    from .database import upgrade_to_head

    upgrade_to_head(current_app._get_current_object())
    added = load_demo_data()
    click.echo(f"Demo data loaded (added {added}). DEMO DATA IS FOR DEMOS: user1..user10 "
               f"share the password {DEMO_PASSWORD!r}; doc.brown@timekit.io signs in with "
               f"{DOC_BROWN_PASSWORD!r}. Do not load it into a production database.")


@click.command("create-user")
@click.argument("username")
@click.option("--email", default=None)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def create_user_command(username, email, password):
    """Create a user account."""
    from .api.user import create_users

    create_users([{"username": username, "email": email, "password": password}])
    click.echo(f"User {username} created.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@with_appcontext
def serve_command(host, port, threads):
    """Serve the API with waitress (the api_key header included)."""
    from .logs import configure_default_logging
    from .serving import serve

    configure_default_logging()
    app: Flask = current_app._get_current_object()
    click.echo(f"Serving on http://{host}:{port}{app.config['API_PREFIX']}/docs")
    serve(app, host=host, port=port, threads=threads)


@click.command("settings")
def settings_command():
    """Print the table of every setting (Markdown), as docs/OPERATIONS.md shows it."""
    from .config import markdown_table

    click.echo(markdown_table())


def init_app(app: Flask) -> None:
    from flask_migrate.cli import db as migrations_group

    # migrations_group: `db upgrade`, `db migrate`, ... (Flask-Migrate).
    for command in (init_db_command, load_demo_command, create_user_command, serve_command,
                    settings_command, migrations_group):
        app.cli.add_command(command)


def _create_app():
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main():
    """Timekit API: manage and serve the service."""
