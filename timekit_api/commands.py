"""The commands of ``timekit-api <command>`` (and ``flask --app wsgi <command>``).

Commands call the domain and print its errors as one line with a non-zero exit. Only the
commands that need the database's schema bring it up to date.
"""

from __future__ import annotations

import click
from flask import Flask, current_app, g
from flask.cli import with_appcontext

from .database.migrate import init_migrations, upgrade_to_head
from .delivery import run as run_delivery
from .domain import accounts, clock, housekeeping
from .domain.demo import DEMO_PASSWORD, DOC_BROWN_PASSWORD, load_demo_data, reset_demo_data
from .domain.errors import DomainError
from .http.logs import configure_default_logging
from .serving import serve, serving_options
from .settings import markdown_table
from .worker import run_until_signalled, start_thread


def fail(error: DomainError) -> None:
    raise click.ClickException(error.message)


def app_with_schema() -> Flask:
    app: Flask = current_app._get_current_object()
    upgrade_to_head(app)
    return app


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Bring the database to the current schema (the same as `db upgrade`).

    `timekit-api serve` and wsgi.py do this by themselves on SQLite (AUTO_CREATE_SCHEMA)."""
    app_with_schema()
    click.echo("Database ready.")


@click.command("load-demo")
@with_appcontext
def load_demo_command():
    """Load the Petstore sample data and the seed's Timekit user. For demos only."""
    app = app_with_schema()
    added = load_demo_data(accounts.Hashing.from_config(app.config))
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
    app = app_with_schema()
    try:
        accounts.create_users([{"username": username, "email": email, "password": password}],
                              accounts.Hashing.from_config(app.config))
    except DomainError as error:
        fail(error)
    click.echo(f"User {username} created.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--threads", type=int, help="worker threads [setting SERVE_THREADS]")
@click.option("--connection-limit", type=int,
              help="open connections accepted at once [setting SERVE_CONNECTION_LIMIT]")
@click.option("--channel-timeout", type=int,
              help="seconds before an idle connection is closed [setting SERVE_CHANNEL_TIMEOUT]")
@with_appcontext
def serve_command(host, port, threads, connection_limit, channel_timeout):
    """Serve the API with waitress (the api_key header included).

    Options left out take their settings (`timekit-api settings`, SERVE_*)."""
    configure_default_logging()
    app: Flask = current_app._get_current_object()
    if app.config["AUTO_CREATE_SCHEMA"]:
        upgrade_to_head(app)
    options = serving_options(app.config)
    for name, value in (("threads", threads), ("connection_limit", connection_limit),
                        ("channel_timeout", channel_timeout)):
        if value is not None:
            options[name] = value
    click.echo(f"Serving on http://{host}:{port}{app.config['API_PREFIX']}/docs")
    start_thread(app)  # unless WORKER_ENABLED is off
    serve(app, host=host, port=port, **options)


@click.command("deliver")
@click.option("--once", is_flag=True, help="Stop when nothing is due instead of polling.")
@with_appcontext
def deliver_command(once):
    """Send pending notifications (webhooks, emails) until stopped (SIGTERM).

    Several may run at once; each notification is sent at least once."""
    configure_default_logging()
    app: Flask = current_app._get_current_object()
    if app.config["AUTO_CREATE_SCHEMA"]:
        upgrade_to_head(app)
    click.echo("Delivering notifications.")
    run_delivery(app, once=once)


@click.command("worker")
@with_appcontext
def worker_command():
    """Run the worker (automatic booking transitions) in this process until SIGTERM.

    Any number of workers and servers may share one database; each transition is
    recorded once."""
    configure_default_logging()
    app: Flask = current_app._get_current_object()
    if app.config["AUTO_CREATE_SCHEMA"]:
        upgrade_to_head(app)
    run_until_signalled(app)


@click.command("purge")
@with_appcontext
def purge_command():
    """Delete expired tokens, action links and idempotency records, and delivered
    notifications past DELIVERY_RETENTION_DAYS (what the worker does every
    WORKER_PURGE_INTERVAL_SECONDS): for a cron job where no worker runs."""
    app = app_with_schema()
    purged = housekeeping.purge(clock.now(), app.config)
    click.echo(f"Purged {purged.tokens} token(s), {purged.action_links} action link(s), "
               f"{purged.idempotency_records} idempotency record(s), "
               f"{purged.deliveries} notification(s).")


@click.command("reset-demo")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def reset_demo_command(yes):
    """WIPE EVERY ROW, set the service's clock back to real time, load the demo data.

    For test setups (what `POST /testing/reset` does); never on a production database."""
    if not yes:
        click.confirm("This deletes every user, pet, order and booking. Continue?",
                      abort=True)
    app = app_with_schema()
    added = reset_demo_data(accounts.Hashing.from_config(app.config))
    click.echo(f"Database reset; demo data loaded (added {added}).")


@click.command("settings")
def settings_command():
    """Print the table of every setting (Markdown), as docs/OPERATIONS.md shows it."""
    click.echo(markdown_table())


class MigrationsGroup(click.Group):
    """Flask-Migrate's ``db`` commands, imported (with Alembic) only when one is asked for,
    so that serving never loads them."""

    @staticmethod
    def _commands() -> click.Group:
        from flask_migrate.cli import db

        return db

    def list_commands(self, ctx):
        return self._commands().list_commands(ctx)

    def get_command(self, ctx, name):
        return self._commands().get_command(ctx, name)


@click.group("db", cls=MigrationsGroup)
@click.option("-d", "--directory", default=None,
              help='Migration script directory (default is "migrations")')
@click.option("-x", "--x-arg", multiple=True,
              help="Additional arguments consumed by custom env.py scripts")
@with_appcontext
def migrations_group(directory, x_arg):
    """Perform database migrations (Flask-Migrate and Alembic): `db upgrade`, ..."""
    init_migrations(current_app._get_current_object())
    g.directory = directory  # what Flask-Migrate's own group callback sets
    g.x_arg = x_arg


COMMANDS = (init_db_command, load_demo_command, create_user_command, serve_command,
            deliver_command, worker_command, purge_command, reset_demo_command, settings_command,
            migrations_group)


def init_app(app: Flask) -> None:
    """Register the commands on ``app.cli`` (so `flask --app wsgi <command>` has them too)."""
    for command in COMMANDS:
        app.cli.add_command(command)
