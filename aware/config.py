"""Settings from AWARE_* environment variables, parsed strictly.

A bad value stops start-up with a message naming the variable; nothing falls back silently.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aware import crypto
from aware.devices.models import DEVICE_KINDS
from aware.risk.rules import DEFAULT_REASSESS_DAYS


class ConfigError(Exception):
    """One or more settings are invalid; the message lists every problem."""


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _parse_bool(raw: str) -> bool:
    v = raw.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false, 1/0, yes/no or on/off")


def _parse_positive_float(raw: str) -> float:
    v = float(raw)
    if not v > 0 or v != v or v == float("inf"):
        raise ValueError("expected a positive number of seconds")
    return v


def _parse_positive_int(raw: str) -> int:
    v = int(raw)
    if v <= 0:
        raise ValueError("expected a positive whole number")
    return v


def _parse_phones(raw: str) -> tuple[str, ...]:
    phones = tuple(p.strip() for p in raw.split(",") if p.strip())
    bad = [p for p in phones if not _E164.match(p)]
    if bad:
        raise ValueError(f"not E.164 numbers (like +31612345678): {', '.join(bad)}")
    return phones


def _parse_db_url(raw: str) -> str:
    raw = raw.strip()
    if not re.match(r"^(sqlite|postgresql\+psycopg)://", raw):
        raise ValueError("expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    return raw


def _parse_redis_url(raw: str) -> str:
    raw = raw.strip()
    if not re.match(r"^rediss?://", raw):
        raise ValueError("expected redis://HOST:PORT/DB or rediss://...")
    return raw


def _parse_reassess_days(raw: str) -> dict[str, int]:
    days: dict[str, int] = {}
    for part in raw.split(","):
        level, sep, value = part.strip().partition("=")
        if not sep or level not in ("high", "moderate", "low") or not value.strip().isdigit():
            raise ValueError("expected high=N,moderate=N,low=N (days)")
        days[level] = int(value)
        if days[level] <= 0:
            raise ValueError("days must be positive")
    if set(days) != {"high", "moderate", "low"}:
        raise ValueError("give all three: high=N,moderate=N,low=N")
    return days


def _parse_supervision_intervals(raw: str) -> dict[str, float]:
    intervals: dict[str, float] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        kind, sep, value = part.strip().partition("=")
        kind = kind.strip()
        if not sep or kind not in DEVICE_KINDS:
            raise ValueError(
                f"expected KIND=SECONDS pairs with KIND one of {', '.join(DEVICE_KINDS)}, "
                "e.g. perpetrator_tracker=120,victim_alarm=3600"
            )
        if kind in intervals:
            raise ValueError(f"{kind} given twice")
        try:
            intervals[kind] = _parse_positive_float(value)
        except ValueError:
            raise ValueError(f"{kind}: expected a positive number of seconds") from None
    if not intervals:
        raise ValueError("expected KIND=SECONDS pairs, e.g. perpetrator_tracker=120")
    return intervals


def _parse_lease_s(raw: str) -> float:
    v = _parse_positive_float(raw)
    if v < 1 or v > 300:
        raise ValueError("expected between 1 and 300 seconds")
    return v


def _parse_public_url(raw: str) -> str:
    raw = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", raw):
        raise ValueError("expected the service's public base URL, e.g. https://aware.example.nl")
    return raw


def _parse_tile_url(raw: str) -> str:
    raw = raw.strip()
    if not re.match(r"^https?://[^/\s]+/\S*\{z\}\S*\{x\}\S*\{y\}\S*$", raw):
        raise ValueError(
            "expected a tile URL template with {z}, {x} and {y}, "
            "e.g. https://tiles.example.nl/{z}/{x}/{y}.png"
        )
    return raw


def _parse_rate(raw: str) -> str:
    from limits import parse

    raw = raw.strip()
    try:
        parse(raw)
    except ValueError:
        raise ValueError("expected a rate such as 10/minute or 5 per minute") from None
    return raw


def _parse_roles(raw: str) -> tuple[str, ...]:
    from aware.auth.models import ROLES

    if raw.strip().lower() == "none":
        return ()
    roles = tuple(r.strip() for r in raw.split(",") if r.strip())
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise ValueError(f"expected roles from {', '.join(ROLES)} (comma-separated) or none")
    return roles


def _parse_proxy_hops(raw: str) -> int:
    v = int(raw)
    if v < 0 or v > 5:
        raise ValueError("expected the number of reverse proxies in front, 0 to 5")
    return v


def _parse_env_name(raw: str) -> str:
    v = raw.strip().lower()
    if v not in ("production", "development", "testing"):
        raise ValueError("expected production, development or testing")
    return v


def _parse_log_level(raw: str) -> str:
    v = raw.strip().upper()
    if v not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return v


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    env: str = "development"
    instance_path: Path = field(default_factory=lambda: Path("instance").resolve())
    database_url: str = ""
    secret_key: str = ""
    redis_url: str | None = None
    redis_channel: str | None = None
    token_ttl_s: int = 12 * 3600
    escalation_after_s: float = 30.0
    escalation_phones: tuple[str, ...] = ()
    supervision_interval_s: float = 300.0
    # Per device kind, overriding supervision_interval_s (e.g. trackers every 120 s).
    supervision_intervals: dict[str, float] = field(default_factory=dict)
    # SQLite scheduler lease: renewed every third of this; another `aware scheduler` takes
    # over once it has run out (PostgreSQL uses an advisory lock and needs no expiry).
    scheduler_lease_s: float = 15.0
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_base_url: str | None = None
    # Where Twilio reaches this service (webhooks are signed for this exact URL).
    public_url: str | None = None
    log_level: str = "INFO"
    # Map tiles for the console (an internal tile server); without, zones and markers only.
    map_tile_url: str | None = None
    reassess_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_REASSESS_DAYS))
    victim_position_max_age_s: float = 300.0
    ban_hysteresis_m: float = 25.0
    sqlite_busy_timeout_ms: int = 10000
    # Keys of the personal fields encrypted at rest (aware.crypto): the first encrypts, all
    # decrypt. Development/testing without them: a random key kept in the instance folder.
    data_keys: tuple[str, ...] = ()
    # Sign-in: failed attempts per client IP and per username (flask-limiter rates), and the
    # account lockout after `lockout_attempts` failures within `lockout_minutes`.
    login_rate_ip: str = "10/minute"
    login_rate_user: str = "5/minute"
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    # Roles that must sign in with TOTP; None means the default for the environment
    # (admin in production, none in development and testing).
    require_totp: tuple[str, ...] | None = None
    # Reverse proxies in front of the service whose X-Forwarded-For/-Proto are trusted.
    proxy_hops: int = 0
    # Retention: ended cases are anonymised this many days after their last change; positions
    # (device events, resolved alarms) are removed this many days after they were received.
    retention_case_days: int = 730
    retention_position_days: int = 90
    # Alarms one device may raise per minute before further ones are folded into one storm
    # alarm per device (alarms.services.StormGate).
    device_alarm_rate: int = 6

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def totp_required_roles(self) -> tuple[str, ...]:
        """Roles that may not sign in without an enrolled second factor."""
        if self.require_totp is not None:
            return self.require_totp
        return ("admin",) if self.env == "production" else ()

    def supervision_interval_for(self, kind: str) -> float:
        """Seconds a device of this kind may stay silent before it counts as offline."""
        return self.supervision_intervals.get(kind, self.supervision_interval_s)


# (environment variable, field name, parser)
_VARIABLES: list[tuple[str, str, Callable[[str], Any]]] = [
    ("AWARE_ENV", "env", _parse_env_name),
    ("AWARE_DATABASE_URL", "database_url", _parse_db_url),
    ("AWARE_SECRET_KEY", "secret_key", str),
    ("AWARE_REDIS_URL", "redis_url", _parse_redis_url),
    ("AWARE_REDIS_CHANNEL", "redis_channel", str),
    ("AWARE_TOKEN_TTL_S", "token_ttl_s", _parse_positive_int),
    ("AWARE_ESCALATION_AFTER_S", "escalation_after_s", _parse_positive_float),
    ("AWARE_ESCALATION_PHONES", "escalation_phones", _parse_phones),
    ("AWARE_SUPERVISION_INTERVAL_S", "supervision_interval_s", _parse_positive_float),
    ("AWARE_SUPERVISION_INTERVALS", "supervision_intervals", _parse_supervision_intervals),
    ("AWARE_SCHEDULER_LEASE_S", "scheduler_lease_s", _parse_lease_s),
    ("TWILIO_ACCOUNT_SID", "twilio_account_sid", str),
    ("TWILIO_AUTH_TOKEN", "twilio_auth_token", str),
    ("TWILIO_FROM_NUMBER", "twilio_from_number", str),
    ("AWARE_TWILIO_BASE_URL", "twilio_base_url", str),
    ("AWARE_PUBLIC_URL", "public_url", _parse_public_url),
    ("AWARE_LOG_LEVEL", "log_level", _parse_log_level),
    ("AWARE_MAP_TILE_URL", "map_tile_url", _parse_tile_url),
    ("AWARE_REASSESS_DAYS", "reassess_days", _parse_reassess_days),
    ("AWARE_VICTIM_POSITION_MAX_AGE_S", "victim_position_max_age_s", _parse_positive_float),
    ("AWARE_BAN_HYSTERESIS_M", "ban_hysteresis_m", _parse_positive_float),
    ("AWARE_DATA_KEYS", "data_keys", crypto.parse_keys),
    ("AWARE_LOGIN_RATE_IP", "login_rate_ip", _parse_rate),
    ("AWARE_LOGIN_RATE_USER", "login_rate_user", _parse_rate),
    ("AWARE_LOCKOUT_ATTEMPTS", "lockout_attempts", _parse_positive_int),
    ("AWARE_LOCKOUT_MINUTES", "lockout_minutes", _parse_positive_int),
    ("AWARE_REQUIRE_TOTP", "require_totp", _parse_roles),
    ("AWARE_PROXY_HOPS", "proxy_hops", _parse_proxy_hops),
    ("AWARE_RETENTION_CASE_DAYS", "retention_case_days", _parse_positive_int),
    ("AWARE_RETENTION_POSITION_DAYS", "retention_position_days", _parse_positive_int),
    ("AWARE_DEVICE_ALARM_RATE", "device_alarm_rate", _parse_positive_int),
]


# Secrets: a bad value is named, never echoed (start-up messages end up in logs).
_SECRET_VARIABLES = {"AWARE_DATA_KEYS"}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Parse settings from the environment; raise ConfigError listing every bad variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for var, name, parse in _VARIABLES:
        raw = environ.get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if var in _SECRET_VARIABLES else repr(raw)
            problems.append(f"{var}={shown}: {exc}")
    if "AWARE_INSTANCE_PATH" in environ:
        values["instance_path"] = Path(environ["AWARE_INSTANCE_PATH"]).resolve()
    values.update(overrides)
    if problems:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))

    settings = Settings(**values)
    if settings.env == "production" and not settings.secret_key:
        raise ConfigError(
            "AWARE_SECRET_KEY is required in production (AWARE_ENV=production); "
            "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    if settings.env == "production" and len(settings.secret_key) < 32:
        raise ConfigError("AWARE_SECRET_KEY must be at least 32 characters in production")
    if settings.env == "production" and not settings.data_keys:
        raise ConfigError(_NO_DATA_KEYS)
    twilio = [settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from_number]
    if any(twilio) and not all(twilio):
        raise ConfigError(
            "set all of TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER, or none"
        )
    return settings


_NO_DATA_KEYS = (
    "AWARE_DATA_KEYS is required in production (AWARE_ENV=production): the key(s) that "
    "encrypt personal fields at rest; generate one with: aware keys new"
)


def finalize(settings: Settings) -> Settings:
    """Fill in what depends on the instance folder (the SQLite default, a dev secret, a dev
    data key) and install the data keys for this process (see aware.crypto)."""
    if settings.env == "production" and not settings.data_keys:
        raise ConfigError(_NO_DATA_KEYS)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    changes: dict[str, Any] = {}
    if not settings.database_url:
        changes["database_url"] = f"sqlite:///{settings.instance_path / 'aware.db'}"
    if not settings.secret_key:
        # Development only (production refused above): a per-instance random key kept in the
        # instance folder so sessions survive restarts; never a fixed default.
        key_file = settings.instance_path / "secret_key"
        if not key_file.exists():
            key_file.touch(mode=0o600)
            key_file.write_text(secrets.token_hex(32))
        changes["secret_key"] = key_file.read_text().strip()
    if not settings.data_keys:
        # Development and testing only (production refused above), like the secret: one random
        # key per instance folder, so `make run` works without setup and data survives restarts.
        data_key_file = settings.instance_path / crypto.KEY_FILE
        if not data_key_file.exists():
            data_key_file.touch(mode=0o600)
            data_key_file.write_text(crypto.new_key())
        try:
            changes["data_keys"] = crypto.parse_keys(data_key_file.read_text())
        except ValueError as exc:
            raise ConfigError(f"{data_key_file}: {exc}") from None
    if changes:
        settings = Settings(**{**settings.__dict__, **changes})
    crypto.install(crypto.Keyring(settings.data_keys))
    return settings
