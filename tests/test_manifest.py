"""manifest.yml is a valid Slack app manifest (official JSON Schema, offline) and asks for
exactly the commands, scopes and events the app uses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
# Slack's MIT-licensed JSON Schema for app manifests, kept in the repository so the check runs offline.
SCHEMA = REPO / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((REPO / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_validates_against_slacks_schema(manifest: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_the_schema_catches_a_broken_manifest(manifest: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = {**manifest, "features": {**manifest["features"], "slash_commands": [{"command": "signals"}]}}
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_both_slash_commands_with_their_hints(manifest: dict) -> None:
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {"/signals", "/org"}
    assert commands["/signals"]["usage_hint"] == "top 10 | risk | drop | inactive | expansion | mine | help"
    assert commands["/org"]["usage_hint"] == "<name, domain or id>"
    assert all("url" not in c for c in commands.values())  # Socket Mode: no request URLs


def test_bot_scopes_are_exactly_what_the_app_calls(manifest: dict) -> None:
    assert manifest["oauth_config"]["scopes"]["bot"] == [
        "commands",
        "chat:write",
        "files:write",
        "users:read",
        "users:read.email",
        "usergroups:read",
        "channels:read",
        "groups:read",
        "channels:history",
        "groups:history",
    ]
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_bot_user_home_tab_interactivity_events_and_socket_mode(manifest: dict) -> None:
    assert manifest["display_information"]["name"] == "SaaS Tracker"
    assert manifest["features"]["bot_user"]["display_name"] == "SaaS Tracker"
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    settings = manifest["settings"]
    assert settings["interactivity"] == {"is_enabled": True}
    assert settings["event_subscriptions"] == {"bot_events": ["app_home_opened"]}
    assert settings["socket_mode_enabled"] is True
