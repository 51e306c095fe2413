"""Personal fields encrypted at rest: Fernet tokens in ordinary text columns.

Keys come from AWARE_DATA_KEYS: comma-separated urlsafe-base64 Fernet keys (`aware keys new`
prints one). The first key encrypts; every key decrypts, so a new key can be put in front of
the old one, `aware keys rotate` re-encrypts every stored value with it, and the old key can
then be removed. Development and testing without AWARE_DATA_KEYS use a random key kept in the
instance folder (`data_key`, like the development secret); production refuses to start
without keys.

Where the key lives at run time: column types are created once, at import, and are shared by
every app, engine and migration of the process, so they cannot hold a key themselves. Instead
`aware.config.finalize` (called by create_app, the CLI and `aware scheduler`) installs the
process-wide keyring below, and the types read it on every value. Each app installs its own
keys again, so a process that builds many apps (the tests: one key per test run) always uses
the keys of the newest one; a process that touches an encrypted column before any app exists
(a script, a migration run by Alembic directly) loads the keys from the environment the same
way the app would. Production runs one app per process, so there is exactly one keyring.

AES-128-CBC + HMAC-SHA256 per value (Fernet), with a random IV: equal plaintexts give
different tokens, so these columns cannot be searched or filtered by value in SQL. Nothing in
the service does (cases are listed by municipality, status and concern); a future search on
names must decrypt in Python or use a keyed hash column of its own.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    select,
    type_coerce,
    update,
)
from sqlalchemy.types import TypeDecorator

KEYS_VARIABLE = "AWARE_DATA_KEYS"
KEY_FILE = "data_key"


class DataKeyError(Exception):
    """A stored value cannot be decrypted with the configured keys, or no key is usable."""


def new_key() -> str:
    """A fresh random Fernet key (urlsafe base64, 44 characters)."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(raw: str) -> tuple[str, ...]:
    """AWARE_DATA_KEYS as a tuple of keys, first = encrypting key; ValueError names the bad one.

    The message gives the position of a bad key, never the key itself (it ends up in logs).
    """
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ValueError("expected one or more comma-separated keys (aware keys new)")
    for i, key in enumerate(keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise ValueError(
                f"key {i} of {len(keys)} is not a Fernet key "
                "(32 bytes in urlsafe base64, 44 characters; make one with `aware keys new`)"
            )
    if len(set(keys)) != len(keys):
        raise ValueError("the same key is given twice")
    return keys


class Keyring:
    """The process's data keys: the first encrypts, all decrypt."""

    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise DataKeyError(f"no data keys: set {KEYS_VARIABLE}")
        self.keys = tuple(keys)
        self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in self.keys])

    def encrypt(self, plaintext: str) -> str:
        """A Fernet token (ASCII) for the text, made with the first key."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The text behind a token; DataKeyError when no configured key opens it."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise DataKeyError(
                "a stored personal field cannot be decrypted with the keys in "
                f"{KEYS_VARIABLE}: the key that encrypted it is missing, or the value is not "
                "an encrypted token"
            ) from None

    def rotate(self, token: str) -> str:
        """The same text as a token of the first key (DataKeyError if no key opens it)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise DataKeyError(
                f"a stored personal field cannot be decrypted with the keys in {KEYS_VARIABLE}"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether the token opens with the first (encrypting) key."""
        try:
            Fernet(self.keys[0].encode("ascii")).decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True


_keyring: Keyring | None = None
_lock = threading.Lock()


def install(keyring: Keyring) -> None:
    """Make these the keys of every encrypted column in this process."""
    global _keyring
    _keyring = keyring


def current() -> Keyring:
    """The installed keyring; loaded from the environment (as the app would) if none is."""
    found = _keyring
    if found is not None:
        return found
    with _lock:
        if _keyring is None:
            from aware.config import finalize, load_settings

            finalize(load_settings())  # installs
        assert _keyring is not None
        return _keyring


def token_length(plaintext_bytes: int) -> int:
    """Characters of the Fernet token of a plaintext of at most this many UTF-8 bytes."""
    # version (1) + timestamp (8) + IV (16) + AES-CBC with PKCS7 padding + HMAC (32), base64.
    raw = 1 + 8 + 16 + 16 * (plaintext_bytes // 16 + 1) + 32
    return 4 * ((raw + 2) // 3)


class EncryptedString(TypeDecorator[str]):
    """Text of at most `max_chars` characters, stored as a Fernet token.

    The column is sized for the token of `max_chars` four-byte characters; a longer value is
    refused here (a clear ValueError) rather than cut off or stored half.
    """

    impl = String
    cache_ok = True

    def __init__(self, max_chars: int):
        super().__init__(length=token_length(4 * max_chars))
        self.max_chars = max_chars

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"an encrypted text column takes str, not {type(value).__name__}")
        if len(value) > self.max_chars:
            raise ValueError(f"text longer than {self.max_chars} characters")
        return current().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return current().decrypt(value)


FLOAT_TOKEN_LENGTH = token_length(32)  # repr() of a float is at most 24 characters


class EncryptedFloat(TypeDecorator[float]):
    """A float (e.g. a home coordinate), stored as the Fernet token of its exact repr()."""

    impl = String
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(length=FLOAT_TOKEN_LENGTH)

    def process_bind_param(self, value: float | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return current().encrypt(repr(float(value)))

    def process_result_value(self, value: str | None, dialect: Any) -> float | None:
        if value is None:
            return None
        return float(current().decrypt(value))


@dataclass
class ColumnCount:
    """What `rotate_all` or `check_all` found in one encrypted column."""

    table: str
    column: str
    rotated: int = 0  # re-encrypted with the first key
    current: int = 0  # already under the first key (or readable, for check_all)
    changed: int = 0  # rewritten by the service meanwhile (so already under the first key)
    unreadable: int = 0  # check_all only: no configured key opens it

    def line(self) -> str:
        """One line for the command's output."""
        return (
            f"{self.table}.{self.column}: {self.rotated} re-encrypted, {self.current} already "
            f"with the first key, {self.changed} changed meanwhile"
        )


def encrypted_columns(metadata: MetaData) -> list[tuple[Table, list[Column[Any]]]]:
    """Every table with encrypted columns, and those columns (found from their types)."""
    found = []
    for table in metadata.sorted_tables:
        cols = [c for c in table.columns if isinstance(c.type, EncryptedString | EncryptedFloat)]
        if cols:
            found.append((table, cols))
    return found


def _pages(
    engine: Engine, table: Table, cols: list[Column[Any]], batch_size: int
) -> Iterator[tuple[Connection, list[Any]]]:
    """The rows' raw tokens page by page (by primary key), one transaction per page."""
    (pk,) = table.primary_key.columns
    raw = [type_coerce(c, String()).label(c.name) for c in cols]
    last: Any = None
    while True:
        with engine.begin() as conn:
            query = select(pk.label("pk"), *raw).order_by(pk).limit(batch_size)
            if last is not None:
                query = query.where(pk > last)
            rows = list(conn.execute(query))
            if not rows:
                return
            yield conn, rows
        last = rows[-1].pk


def rotate_all(
    engine: Engine, keyring: Keyring, metadata: MetaData, batch_size: int = 500
) -> list[ColumnCount]:
    """Re-encrypt every encrypted value not yet under the first key, one transaction per page.

    Idempotent: values already under the first key are left alone, so a second run changes
    nothing. A value the service rewrites meanwhile is not overwritten (the update only applies
    while the old token is still there). DataKeyError names the first value no key opens; the
    pages before it stay rotated, and a run with the missing key added finishes the job.
    """
    counts: list[ColumnCount] = []
    for table, cols in encrypted_columns(metadata):
        (pk,) = table.primary_key.columns
        per_col = {c.name: ColumnCount(table.name, c.name) for c in cols}
        counts += per_col.values()
        for conn, rows in _pages(engine, table, cols, batch_size):
            for row in rows:
                for col in cols:
                    token = getattr(row, col.name)
                    if token is None:
                        continue
                    count = per_col[col.name]
                    if keyring.is_current(token):
                        count.current += 1
                        continue
                    try:
                        new = keyring.rotate(token)
                    except DataKeyError:
                        raise DataKeyError(
                            f"{table.name}.{col.name} of row {row.pk} cannot be decrypted with "
                            f"any key in {KEYS_VARIABLE}; add the key that encrypted it and run "
                            "again (rows before it are rotated)"
                        ) from None
                    raw_col = type_coerce(col, String())
                    done = conn.execute(
                        update(table)
                        .where(pk == row.pk, raw_col == token)
                        .values({col.name: type_coerce(new, String())})
                    )
                    if done.rowcount == 1:
                        count.rotated += 1
                    else:
                        count.changed += 1
    return counts


def check_all(engine: Engine, keyring: Keyring, metadata: MetaData) -> list[ColumnCount]:
    """Count, per encrypted column, the values the keys open (`current`) and those they don't."""
    counts: list[ColumnCount] = []
    for table, cols in encrypted_columns(metadata):
        per_col = {c.name: ColumnCount(table.name, c.name) for c in cols}
        counts += per_col.values()
        for _conn, rows in _pages(engine, table, cols, 1000):
            for row in rows:
                for col in cols:
                    token = getattr(row, col.name)
                    if token is None:
                        continue
                    try:
                        keyring.decrypt(token)
                        per_col[col.name].current += 1
                    except DataKeyError:
                        per_col[col.name].unreadable += 1
    return counts
