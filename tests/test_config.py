"""The configuration file: the documented defaults, strict about unknown keys and ranges."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from domain.config import Config, ConfigError, config_from_dict, config_to_toml, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_match_the_spec() -> None:
    cfg = Config()
    assert cfg.scan.recent_window_days == 14 and cfg.scan.activity_window_days == 28
    assert cfg.health.weights == {"activity": 30.0, "breadth": 20.0, "seat_utilization": 20.0, "trend": 15.0,
                                  "support": 10.0, "sentiment": 5.0}
    assert (cfg.health.red_below, cfg.health.green_from) == (40.0, 70.0)
    s = cfg.signals
    assert (s.revenue_at_risk_health_below, s.usage_drop_change_at_most, s.usage_drop_min_previous_events,
            s.inactive_days, s.expansion_health_from, s.expansion_growth_from,
            s.expansion_seat_utilization_from) == (40.0, -0.4, 20, 14, 70.0, 0.2, 0.9)
    assert cfg.slack.digest_channel == "#customer-success" and cfg.slack.digest_day == "mon"
    assert cfg.slack.digest_time == "09:00" and cfg.slack.alert_priority_threshold == 80.0
    assert cfg.segments.health_split == 60.0 and cfg.tiers.mode_weight["retention"] == 0.7


def test_example_file_is_exactly_the_defaults() -> None:
    example = (ROOT / "saas-tracker.example.toml").read_text()
    assert config_from_dict(tomllib.loads(example)) == Config()
    assert example.endswith(config_to_toml(Config()))


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[signals]\ninactive_days = 21\n[health]\nweights = { sentiment = 0 }\nkey_features = ["api"]\n')
    cfg = load_config(path)
    assert cfg.signals.inactive_days == 21 and cfg.signals.usage_drop_min_previous_events == 20
    assert cfg.health.weights["sentiment"] == 0.0 and cfg.health.weights["activity"] == 30.0
    assert cfg.health.key_features == ["api"]
    assert config_from_dict(tomllib.loads(config_to_toml(cfg))) == cfg


@pytest.mark.parametrize("text,message", [
    ("[signals]\ninactive_dayz = 3\n", "signals.inactive_dayz: unknown setting"),
    ("[sigals]\n", "sigals: unknown setting"),
    ("[health]\nred_below = 140\n", "health.red_below: 140 is above the maximum 100"),
    ("[signals]\ninactive_days = \"two weeks\"\n", "signals.inactive_days: expected a whole number"),
    ("[health]\nweights = { activty = 3 }\n", "health.weights.activty: unknown key"),
    ("[health]\nweights = { activity = -3 }\n", "health.weights.activity: -3 is below the minimum 0"),
    ("[slack]\ndigest_day = \"someday\"\n", "slack.digest_day: 'someday' is not one of mon"),
    ("[slack]\ntimezone = \"Mars/Olympus\"\n", "slack.timezone: 'Mars/Olympus' is not a known time zone"),
    ("[slack]\ndigest_time = \"25:00\"\n", "slack.digest_time: '25:00' is not HH:MM"),
    ("[health]\nred_below = 80\n", "health.red_below: must not be above health.green_from"),
])
def test_bad_files_are_rejected_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_cli_stops_at_start_with_the_key_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[scan]\nrecent_window_dayz = 7\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "check"])
    assert result.exit_code != 0
    assert "scan.recent_window_dayz: unknown setting" in str(result.exception) + result.output


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")


def test_playbook_defaults_cover_every_case_and_signal_type() -> None:
    from domain.vocabulary import CASE_TYPES, SIGNAL_TYPES

    books = Config().playbooks
    for name in (*CASE_TYPES, *SIGNAL_TYPES):
        book = books.for_case(name) or books.for_signal(name)
        assert book is not None and book.title and book.read and book.steps, name
    assert books.for_case("risk").next_step == "Reach the champion and the economic buyer this week"
    assert books.for_case(None) is None and books.for_signal("nope") is None


def test_a_playbook_is_overridden_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[playbooks.risk]\nsteps = ["Call the CFO today", "Write the recovery plan"]\n'
                    '[playbooks.usage_drop]\nread = "Our own words."\n')
    cfg = load_config(path)
    assert cfg.playbooks.risk.steps == ["Call the CFO today", "Write the recovery plan"]
    assert cfg.playbooks.risk.title == Config().playbooks.risk.title  # untouched keys keep their default
    assert cfg.playbooks.usage_drop.read == "Our own words."
    assert cfg.playbooks.usage_drop.steps == Config().playbooks.usage_drop.steps
    assert config_from_dict(tomllib.loads(config_to_toml(cfg))) == cfg


@pytest.mark.parametrize("text,message", [
    ("[playbooks.churn]\nsteps = []\n", "playbooks.churn: unknown setting"),
    ("[playbooks.risk]\nstep = [\"x\"]\n", "playbooks.risk.step: unknown setting"),
    ("[playbooks.risk]\nsteps = [\"\"]\n", "playbooks.risk.steps[0]: a step must say something"),
    ("[playbooks.risk]\nsteps = [1]\n", "playbooks.risk.steps[0]: expected text"),
    ("[playbooks.risk]\nsteps = [" + ", ".join(['"x"'] * 9) + "]\n", "playbooks.risk.steps: 9 items, more than the 8"),
    ("[playbooks.risk]\nread = \"" + "x" * 501 + "\"\n", "playbooks.risk.read: 501 characters, more than the 500"),
    ("[review]\ntier4_days = 0\n", "review.tier4_days: 0 is below the minimum 1"),
    ("[slack]\ncharts = \"yes\"\n", "slack.charts: expected true or false"),
])
def test_bad_playbooks_and_review_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)


def test_review_intervals_by_tier() -> None:
    review = Config().review
    assert [review.interval_days(t) for t in ("Tier 1", "Tier 2", "Tier 3", "Tier 4")] == [7, 14, 30, 90]
    assert review.interval_days("Tier 9") is None
