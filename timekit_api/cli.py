"""Command line entry point: ``timekit-api <command>``; the commands are ``commands.py``'s."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from .app import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main():
    """Timekit API: manage and serve the service."""
