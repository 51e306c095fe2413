"""Settings: strict parsing, clear messages, no insecure defaults."""

import pytest

from aware.config import ConfigError, finalize, load_settings


def test_defaults_without_environment():
    s = load_settings({})
    assert s.env == "development"
    assert s.escalation_after_s == 30.0
    assert s.database_url == ""


def test_every_bad_value_is_named_in_one_message():
    env = {
        "AWARE_ESCALATION_AFTER_S": "soon",
        "AWARE_ESCALATION_PHONES": "+31612345678, 0612345678",
        "AWARE_DATABASE_URL": "mysql://x",
        "AWARE_ENV": "prod",
        "AWARE_SUPERVISION_INTERVAL_S": "-5",
    }
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    msg = str(exc.value)
    for var in env:
        assert var in msg
    assert "0612345678" in msg


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(ConfigError, match="AWARE_SECRET_KEY"):
        load_settings({"AWARE_ENV": "production"})


def test_production_refuses_a_short_secret_key():
    with pytest.raises(ConfigError, match="at least 32"):
        load_settings({"AWARE_ENV": "production", "AWARE_SECRET_KEY": "short"})


def test_production_with_a_key_starts():
    key = "a2V5LWZvci10ZXN0cy1vbmx5LWtleS1mb3ItdGVzdHM="
    s = load_settings(
        {"AWARE_ENV": "production", "AWARE_SECRET_KEY": "k" * 40, "AWARE_DATA_KEYS": key}
    )
    assert s.secret_key == "k" * 40 and s.data_keys == (key,)


def test_twilio_settings_come_together():
    with pytest.raises(ConfigError, match="TWILIO"):
        load_settings({"TWILIO_ACCOUNT_SID": "AC123"})


def test_values_are_parsed():
    s = load_settings(
        {
            "AWARE_ESCALATION_AFTER_S": "12.5",
            "AWARE_ESCALATION_PHONES": "+31612345678,+31201234567",
            "AWARE_DATABASE_URL": "postgresql+psycopg://u@h/db",
        }
    )
    assert s.escalation_after_s == 12.5
    assert s.escalation_phones == ("+31612345678", "+31201234567")
    assert not s.is_sqlite


def test_finalize_puts_sqlite_and_a_private_dev_key_in_the_instance_folder(tmp_path):
    s = finalize(load_settings({"AWARE_INSTANCE_PATH": str(tmp_path)}))
    assert s.database_url == f"sqlite:///{tmp_path / 'aware.db'}"
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert len(s.secret_key) == 64
    # The same key on the next start: sessions survive restarts.
    assert (
        finalize(load_settings({"AWARE_INSTANCE_PATH": str(tmp_path)})).secret_key == s.secret_key
    )
