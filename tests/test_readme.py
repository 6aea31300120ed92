"""The README stays the configuration reference: every setting is in it."""

from __future__ import annotations

from pathlib import Path

from kiosk.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [name for name in Settings.model_fields if f"`{name}`" not in README]
    assert not missing, f"settings missing from README's configuration table: {missing}"


def test_the_first_two_commands_are_demo_and_test() -> None:
    commands = [line.split("#")[0].strip() for line in README.splitlines() if line.startswith("./")]
    assert commands[:2] == ["./dev demo", "./dev test"]
