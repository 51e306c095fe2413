"""Data keys and the encrypted column types (aware.crypto), without a database."""

from __future__ import annotations

import stat
from collections.abc import Iterator

import pytest

from aware import crypto
from aware.config import ConfigError, Settings, finalize, load_settings
from tests.conftest import DATA_KEY


@pytest.fixture(autouse=True)
def _restore_run_key() -> Iterator[None]:
    yield
    crypto.install(crypto.Keyring([DATA_KEY]))


def test_a_value_encrypts_to_a_different_token_each_time_and_decrypts_back():
    ring = crypto.Keyring([crypto.new_key()])
    a, b = ring.encrypt("Sanne de Vries"), ring.encrypt("Sanne de Vries")
    assert a != b and "Sanne" not in a and a.startswith("gAAAAA")
    assert ring.decrypt(a) == ring.decrypt(b) == "Sanne de Vries"


def test_the_first_key_encrypts_and_every_key_decrypts():
    old, new = crypto.new_key(), crypto.new_key()
    token_old = crypto.Keyring([old]).encrypt("Oudegracht 1")
    both = crypto.Keyring([new, old])
    assert both.decrypt(token_old) == "Oudegracht 1"
    assert not both.is_current(token_old)
    rotated = both.rotate(token_old)
    assert both.is_current(rotated)
    assert crypto.Keyring([new]).decrypt(rotated) == "Oudegracht 1"
    assert crypto.Keyring([new]).decrypt(both.encrypt("x")) == "x"


def test_a_wrong_key_is_a_clear_error_not_garbage():
    token = crypto.Keyring([crypto.new_key()]).encrypt("Sanne de Vries")
    with pytest.raises(crypto.DataKeyError, match="cannot be decrypted with the keys in"):
        crypto.Keyring([crypto.new_key()]).decrypt(token)
    with pytest.raises(crypto.DataKeyError, match="AWARE_DATA_KEYS"):
        crypto.Keyring([crypto.new_key()]).decrypt("Sanne de Vries")  # plaintext, not a token


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "one or more"),
        ("not-a-key", "key 1 of 1 is not a Fernet key"),
        (f"{DATA_KEY},{DATA_KEY[:-2]}", "key 2 of 2 is not a Fernet key"),
        (f"{DATA_KEY},{DATA_KEY}", "twice"),
    ],
)
def test_bad_keys_are_refused_by_position(raw, message):
    with pytest.raises(ValueError, match=message):
        crypto.parse_keys(raw)


def test_a_bad_key_setting_is_named_but_never_echoed():
    secret = "c2VjcmV0LWJ1dC10b28tc2hvcnQ="
    with pytest.raises(ConfigError) as exc:
        load_settings({"AWARE_DATA_KEYS": f"{DATA_KEY},{secret}"})
    assert "AWARE_DATA_KEYS" in str(exc.value) and "key 2 of 2" in str(exc.value)
    assert secret not in str(exc.value) and DATA_KEY not in str(exc.value)


def test_keys_are_parsed_in_order():
    a, b = crypto.new_key(), crypto.new_key()
    assert load_settings({"AWARE_DATA_KEYS": f" {a} , {b} "}).data_keys == (a, b)


def test_production_refuses_to_start_without_data_keys(tmp_path):
    env = {"AWARE_ENV": "production", "AWARE_SECRET_KEY": "k" * 40}
    with pytest.raises(ConfigError, match="AWARE_DATA_KEYS is required in production"):
        load_settings(env)
    # ... also when settings are built in code and finalized (no key file is made up).
    with pytest.raises(ConfigError, match="AWARE_DATA_KEYS"):
        finalize(Settings(env="production", secret_key="k" * 40, instance_path=tmp_path))
    assert not (tmp_path / crypto.KEY_FILE).exists()


def test_development_keeps_a_random_key_in_the_instance_folder(tmp_path):
    first = finalize(Settings(instance_path=tmp_path))
    key_file = tmp_path / crypto.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.data_keys == (key_file.read_text(),)
    token = crypto.current().encrypt("x")  # finalize installed it
    again = finalize(Settings(instance_path=tmp_path))  # a restart: same key
    assert again.data_keys == first.data_keys
    assert crypto.current().decrypt(token) == "x"
    other = finalize(Settings(instance_path=tmp_path / "other"))
    assert other.data_keys != first.data_keys


def test_finalize_installs_the_configured_keys(tmp_path):
    key = crypto.new_key()
    finalize(Settings(instance_path=tmp_path, data_keys=(key,)))
    assert crypto.current().keys == (key,)
    assert not (tmp_path / crypto.KEY_FILE).exists()


@pytest.mark.parametrize("chars", [32, 200, 300, 2000])
def test_columns_hold_the_token_of_their_longest_value(chars):
    ring = crypto.Keyring([crypto.new_key()])
    longest = "😀" * chars  # four UTF-8 bytes each
    assert len(ring.encrypt(longest)) == crypto.token_length(4 * chars)
    assert crypto.EncryptedString(chars).impl_instance.length == crypto.token_length(4 * chars)
    assert len(ring.encrypt(repr(-179.12345678901234))) <= crypto.FLOAT_TOKEN_LENGTH


def test_the_column_types_encrypt_and_refuse_overlong_text():
    crypto.install(crypto.Keyring([crypto.new_key()]))
    col = crypto.EncryptedString(5)
    stored = col.process_bind_param("Anna", None)
    assert stored is not None and "Anna" not in stored
    assert col.process_result_value(stored, None) == "Anna"
    assert col.process_bind_param(None, None) is None
    with pytest.raises(ValueError, match="longer than 5"):
        col.process_bind_param("Annabel", None)
    num = crypto.EncryptedFloat()
    token = num.process_bind_param(52.09071234567891, None)
    assert token is not None and "52.09" not in token
    assert num.process_result_value(token, None) == 52.09071234567891
