"""The README's settings table is generated from config.SETTINGS: it cannot drift."""

from __future__ import annotations

from helpers import ROOT
from timekit_api.settings import SETTINGS, markdown_table


def settings_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- settings:start -->\n") + len("<!-- settings:start -->\n")
    return text[start:text.index("\n<!-- settings:end -->")]


def test_settings_table_matches_the_code():
    assert settings_section() == markdown_table(), (
        "regenerate the table: timekit-api settings")


def test_every_setting_has_a_row():
    rows = [line for line in settings_section().splitlines()[2:]]
    assert [row.split("`")[1] for row in rows] == list(SETTINGS)


def test_settings_command_prints_the_table(runner):
    result = runner.invoke(args=["settings"])
    assert result.exit_code == 0
    assert result.output.strip() == markdown_table()
