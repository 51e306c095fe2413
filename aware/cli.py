"""The `aware` command line (also `python -m aware`)."""

from __future__ import annotations

import gc
import sys
from typing import Any

import click

from aware.config import ConfigError, Settings, finalize, load_settings


def _settings() -> Settings:
    try:
        return finalize(load_settings())
    except ConfigError as exc:
        click.echo(f"aware: {exc}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """AWARE: alarms, trackers, bans and case coordination."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """HTTP + Socket.IO on one port."""
    from aware import migrate
    from aware.app import create_app
    from aware.db import make_engine

    settings = _settings()
    if settings.is_sqlite:
        # The embedded default creates or upgrades its own schema.
        migrate.upgrade(settings.database_url)
    else:
        engine = make_engine(settings.database_url)
        try:
            current = migrate.is_current(engine, settings.database_url)
        finally:
            engine.dispose()
        if not current:
            click.echo(
                "aware: the database schema is not current; run `aware db upgrade`", err=True
            )
            sys.exit(2)
    app = create_app(settings)
    socketio = app.extensions["socketio"]
    escalator = app.extensions["aware"].escalator
    if escalator is not None:
        # Due escalation work is polled from the database: alarms raised by any process (also
        # one that died, `aware demo` or the scheduler) escalate on time, across restarts.
        escalator.start()
    if not settings.redis_url:
        from aware.alarms.relay import start_relay

        start_relay(app)  # alarms raised by `aware scheduler` reach this process's consoles
    # Everything loaded so far lives as long as the process: keep it out of the garbage
    # collector's scans, which otherwise pause request threads (and alarm delivery) now and then.
    gc.collect()
    gc.freeze()
    click.echo(f"aware serving on http://{host}:{port} ({_describe(settings)})")
    # Werkzeug's threaded server carries HTTP and WebSocket (simple-websocket) in threading mode.
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False)


def _describe(settings: Settings) -> str:
    if settings.is_sqlite:
        return f"SQLite {settings.database_url.removeprefix('sqlite:///')}"
    return "PostgreSQL"


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations to AWARE_DATABASE_URL."""
    from aware import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@main.group()
def user() -> None:
    """People who sign in."""


@user.command("create")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "coordinator", "dispatcher", "municipality"]),
)
@click.option("--password", required=True)
@click.option("--municipality", default=None, help="CBS code, e.g. 0344 (municipality role)")
def user_create(username: str, role: str, password: str, municipality: str | None) -> None:
    """Create a user."""
    from aware.auth.services import UserInvalid, create_user
    from aware.state import utcnow

    with _session() as session:
        try:
            created = create_user(session, username, role, password, utcnow(), municipality)
        except UserInvalid as exc:
            click.echo(f"aware: {exc.field}: {exc.message}", err=True)
            sys.exit(2)
    click.echo(f"created {role} {created.username} (id {created.id})")


@user.command("totp")
@click.argument("username")
@click.option("--replace", is_flag=True, help="give a new secret; the old codes stop working")
def user_totp(username: str, replace: bool) -> None:
    """Enrol a TOTP second factor: prints the otpauth:// URI once (scan it as a QR code)."""
    from aware.auth.services import TotpInvalid, enroll_totp

    with _session() as session:
        try:
            enrolled, uri = enroll_totp(session, username, replace=replace)
        except TotpInvalid as exc:
            click.echo(f"aware: {exc}", err=True)
            sys.exit(2)
    click.echo(f"second factor enrolled for {enrolled.username}; add it to an authenticator app:")
    click.echo(uri)
    click.echo("This is shown once. From now on sign-in asks for the 6-digit code.")


@user.command("unlock")
@click.argument("username")
def user_unlock(username: str) -> None:
    """Lift a sign-in lockout after too many failed attempts."""
    from aware.auth.services import unlock

    with _session() as session:
        unlocked = unlock(session, username)
    if unlocked is None:
        click.echo(f"aware: no user {username}", err=True)
        sys.exit(2)
    click.echo(f"{unlocked.username} unlocked")


@main.group()
def municipalities() -> None:
    """Reference data: the CBS municipality list."""


@municipalities.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="print what would change, change nothing")
def municipalities_load(file: str, dry_run: bool) -> None:
    """Load CBS's current "Gemeenten alfabetisch" CSV: upsert names and provinces, mark
    municipalities no longer listed inactive (never deleted). A bad file changes nothing."""
    from pathlib import Path

    from aware.coordination.reference import (
        ReferenceFileError,
        parse_municipalities,
        sync_municipalities,
    )

    try:
        rows = parse_municipalities(Path(file).read_bytes())
    except ReferenceFileError as exc:
        click.echo(f"aware: {file}: {exc}; nothing changed", err=True)
        sys.exit(2)
    with _session() as session:
        report = sync_municipalities(session, rows, dry_run=dry_run)
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing changed")


@municipalities.command("regions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="print what would change, change nothing")
def municipalities_regions(file: str, dry_run: bool) -> None:
    """Load the centrumgemeente regions (vrouwenopvang / Veilig Thuis) from a CSV with the
    columns code,centrumgemeente_code: a full list, so municipalities not in it get no region.
    A bad file changes nothing."""
    from pathlib import Path

    from sqlalchemy import select

    from aware.coordination.reference import (
        ReferenceFileError,
        parse_centrumgemeenten,
        sync_regions,
    )
    from aware.coordination.reference_models import Municipality

    with _session() as session:
        known = set(session.scalars(select(Municipality.code)))
        try:
            regions = parse_centrumgemeenten(Path(file).read_bytes(), known)
            lines = sync_regions(session, regions, dry_run=dry_run)
        except ReferenceFileError as exc:
            click.echo(f"aware: {file}: {exc}; nothing changed", err=True)
            sys.exit(2)
    for line in lines:
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing changed")


def _session() -> Any:
    """A session on an up-to-date schema (the embedded default is upgraded on the spot)."""
    from aware import migrate
    from aware.db import make_engine, make_sessionmaker

    settings = _settings()
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
    return make_sessionmaker(make_engine(settings.database_url))()


@main.command()
def scheduler() -> None:
    """The one scheduler process (meetings, reminders, supervision)."""
    from aware.scheduler.process import main as run_scheduler

    sys.exit(run_scheduler())


@main.command()
def demo() -> None:
    """Load a demo set: a user per role, devices and a few open alarms."""
    from aware.alarms.escalation import chain_to_data, default_chain
    from aware.demo import TOKENS_FILE, load_demo

    settings = _settings()
    tokens_path = settings.instance_path / TOKENS_FILE
    chain = chain_to_data(default_chain(settings.escalation_after_s, settings.escalation_phones))
    with _session() as session:
        for line in load_demo(session, tokens_path, default_escalation=chain):
            click.echo(line)


@main.command()
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--seconds", default=60, show_default=True, type=click.IntRange(1, 86400))
@click.option("--tokens-file", default=None, help="device tokens written by `aware demo`")
def simulate(url: str, seconds: int, tokens_file: str | None) -> None:
    """Send device events (presses, positions, heartbeats) through the public API."""
    from aware.simulate import run

    run(url, seconds, tokens_file or str(_settings().instance_path / "demo-devices.json"))


@main.group()
def keys() -> None:
    """Keys of the personal fields encrypted at rest (AWARE_DATA_KEYS)."""


@keys.command("new")
def keys_new() -> None:
    """Print a new random data key (put it first in AWARE_DATA_KEYS to start using it)."""
    from aware import crypto

    click.echo(crypto.new_key())


def _keys_engine() -> Any:
    """The database engine on a current schema, with this environment's keys installed."""
    from aware import migrate
    from aware.db import make_engine

    settings = _settings()  # installs the keys (aware.config.finalize)
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    if not migrate.is_current(engine, settings.database_url):
        engine.dispose()
        click.echo("aware: the database schema is not current; run `aware db upgrade`", err=True)
        sys.exit(2)
    return engine


@keys.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100000))
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every personal field with the first key of AWARE_DATA_KEYS.

    One transaction per batch of rows; running it again changes nothing. Afterwards the other
    keys can be removed from AWARE_DATA_KEYS (restart every process with the new key first,
    so nothing writes with an old one meanwhile).
    """
    from aware import crypto
    from aware.models import Base

    engine = _keys_engine()
    try:
        counts = crypto.rotate_all(engine, crypto.current(), Base.metadata, batch_size)
    except crypto.DataKeyError as exc:
        click.echo(f"aware: {exc}", err=True)
        sys.exit(2)
    finally:
        engine.dispose()
    for count in counts:
        click.echo(count.line())
    rotated = sum(c.rotated for c in counts)
    current = sum(c.current for c in counts)
    changed = sum(c.changed for c in counts)
    click.echo(
        f"rotated: {rotated} values re-encrypted, {current} already with the first key, "
        f"{changed} changed meanwhile; every personal field now opens with the first key"
    )


@keys.command("check")
def keys_check() -> None:
    """Count the personal fields the keys in AWARE_DATA_KEYS open; exit 1 if any does not."""
    from aware import crypto
    from aware.models import Base

    engine = _keys_engine()
    try:
        counts = crypto.check_all(engine, crypto.current(), Base.metadata)
    finally:
        engine.dispose()
    for count in counts:
        click.echo(
            f"{count.table}.{count.column}: {count.current} readable, {count.unreadable} unreadable"
        )
    unreadable = sum(c.unreadable for c in counts)
    if unreadable:
        click.echo(
            f"aware: {unreadable} values cannot be decrypted with AWARE_DATA_KEYS "
            "(a key that encrypted them is missing)",
            err=True,
        )
        sys.exit(1)
    click.echo(f"ok: all {sum(c.current for c in counts)} values readable")


if __name__ == "__main__":
    main()
