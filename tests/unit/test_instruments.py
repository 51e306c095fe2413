"""Risk instruments as data: loading, versions, languages and answer validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aware.risk.instruments import (
    SHIPPED_FOLDER,
    Instrument,
    InstrumentFileError,
    InstrumentRegistry,
    UnknownInstrument,
    default_registry,
)

ELEVEN = [str(n) for n in range(1, 12)]


def instrument(**overrides: Any) -> dict[str, Any]:
    """A small valid instrument with one ex-partner-only item (fake texts, not SASH)."""
    data: dict[str, Any] = {
        "id": "demo",
        "version": "1",
        "language": "nl",
        "title": "Demo",
        "source": "test",
        "license": "test",
        "items": [
            {"id": "a", "text": "Vraag a?", "ex_partner_only": False},
            {"id": "b", "text": "Vraag b?", "ex_partner_only": False},
            {"id": "x", "text": "Alleen ex-partner?", "ex_partner_only": True},
        ],
    }
    data.update(overrides)
    return data


def write(folder: Path, name: str, data: dict[str, Any] | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def demo(tmp_path: Path) -> InstrumentRegistry:
    write(tmp_path, "demo.nl.json", instrument())
    return InstrumentRegistry.load_folder(tmp_path)


# --- the shipped public example ---------------------------------------------------------------


def test_shipped_folder_has_s_dash_2009_in_dutch_and_english() -> None:
    registry = InstrumentRegistry.load_folder(SHIPPED_FOLDER)
    assert "s-dash-2009" in registry.ids()
    for language in ("nl", "en"):
        inst = registry.get("s-dash-2009", language)
        assert inst.language == language
        assert inst.version == "2009"
        assert list(inst.item_ids) == ELEVEN
        assert all(item.text.endswith("?") for item in inst.items)
        assert inst.license == "public example for demos and tests"
    assert registry.languages("s-dash-2009") == ["nl", "en"]


def test_shipped_folder_holds_no_sash_file() -> None:
    # The SASH item texts are licensed: they are never shipped.
    assert not [p for p in SHIPPED_FOLDER.iterdir() if "sash" in p.name.lower()]


def test_default_registry_without_owner_folder(tmp_path: Path) -> None:
    registry = default_registry(tmp_path / "instruments")  # does not exist: fine
    assert registry.ids() == ["s-dash-2009"]
    assert default_registry(None).ids() == ["s-dash-2009"]


# --- get: languages and versions --------------------------------------------------------------


def test_get_without_language_prefers_dutch_then_english(tmp_path: Path) -> None:
    write(tmp_path, "demo.de.json", instrument(language="de", title="Demo de"))
    write(tmp_path, "demo.en.json", instrument(language="en", title="Demo en"))
    assert InstrumentRegistry.load_folder(tmp_path).get("demo").language == "en"
    write(tmp_path, "demo.nl.json", instrument())
    registry = InstrumentRegistry.load_folder(tmp_path)
    assert registry.get("demo").language == "nl"
    assert registry.get("demo", "de").title == "Demo de"
    assert registry.languages("demo") == ["nl", "en", "de"]


def test_get_unknown_id_or_language_raises_a_key_error(demo: InstrumentRegistry) -> None:
    with pytest.raises(UnknownInstrument, match="nope"):
        demo.get("nope")
    with pytest.raises(KeyError):
        demo.get("demo", "fr")
    with pytest.raises(UnknownInstrument, match="version '9'"):
        demo.get("demo", version="9")
    with pytest.raises(UnknownInstrument):
        demo.validate_answers("nope", {}, ex_partner=False)


def test_owner_folder_adds_an_instrument_and_a_newer_version(tmp_path: Path) -> None:
    owner = tmp_path / "instance" / "instruments"
    newer = instrument(id="s-dash-2009", version="2009.1", title="Eigen versie")
    write(owner, "s-dash-2009.nl.json", newer)
    write(owner, "sash-2015.nl.json", instrument(id="sash-2015", version="2015"))
    registry = default_registry(owner)
    assert registry.ids() == ["s-dash-2009", "sash-2015"]
    assert registry.versions("s-dash-2009") == ["2009", "2009.1"]
    assert registry.get("s-dash-2009").title == "Eigen versie"
    # The newest version in English is still the shipped one; older versions stay reachable.
    assert registry.get("s-dash-2009", "en").version == "2009"
    assert list(registry.get("s-dash-2009", "nl", version="2009").item_ids) == ELEVEN
    assert registry.path_of(registry.get("sash-2015")).parent == owner


def test_versions_sort_numerically(tmp_path: Path) -> None:
    for version in ("9", "10", "10.2", "10.10"):
        write(tmp_path, f"demo-{version}.nl.json", instrument(version=version))
    registry = InstrumentRegistry.load_folder(tmp_path)
    assert registry.versions("demo") == ["9", "10", "10.2", "10.10"]
    assert registry.get("demo").version == "10.10"


# --- answers ----------------------------------------------------------------------------------


def test_valid_answers_and_missing_items_are_no_error(demo: InstrumentRegistry) -> None:
    assert demo.validate_answers("demo", {"a": "yes", "b": "unknown"}, ex_partner=False) == {}
    assert demo.validate_answers("demo", {}, ex_partner=False) == {}
    assert demo.validate_answers("demo", {"a": "no", "x": "yes"}, ex_partner=True) == {}


def test_unknown_item_id_is_an_error(demo: InstrumentRegistry) -> None:
    errors = demo.validate_answers("demo", {"a": "yes", "zz": "no"}, ex_partner=False)
    assert list(errors) == ["answers.zz"]
    assert "zz" in errors["answers.zz"]


@pytest.mark.parametrize("value", ["Yes", "ja", "", "maybe", None, 1])
def test_answer_values_other_than_yes_no_unknown_are_errors(
    demo: InstrumentRegistry, value: Any
) -> None:
    errors = demo.validate_answers("demo", {"a": value}, ex_partner=False)
    assert errors == {"answers.a": "must be yes, no or unknown"}


def test_ex_partner_only_item_answered_for_a_non_ex_partner_is_an_error(
    demo: InstrumentRegistry,
) -> None:
    for value in ("yes", "no"):
        errors = demo.validate_answers("demo", {"x": value}, ex_partner=False)
        assert list(errors) == ["answers.x"]
    # "unknown" is the same as leaving it out.
    assert demo.validate_answers("demo", {"x": "unknown"}, ex_partner=False) == {}


def test_every_error_is_reported_at_once(demo: InstrumentRegistry) -> None:
    answers = {"a": "maybe", "x": "yes", "q": "no", "b": "no"}
    errors = demo.validate_answers("demo", answers, ex_partner=False)
    assert set(errors) == {"answers.a", "answers.x", "answers.q"}


def test_complete_answers_fills_unknown_for_applicable_items(demo: InstrumentRegistry) -> None:
    inst = demo.get("demo")
    assert inst.complete_answers({"a": "yes"}, ex_partner=False) == {"a": "yes", "b": "unknown"}
    assert inst.complete_answers({"x": "no"}, ex_partner=True) == {
        "a": "unknown",
        "b": "unknown",
        "x": "no",
    }


def test_validation_uses_the_asked_version(tmp_path: Path) -> None:
    write(tmp_path, "demo-1.nl.json", instrument())
    v2_items = [{"id": "c", "text": "Nieuw?", "ex_partner_only": False}]
    write(tmp_path, "demo-2.nl.json", instrument(version="2", items=v2_items))
    registry = InstrumentRegistry.load_folder(tmp_path)
    assert registry.validate_answers("demo", {"c": "yes"}, ex_partner=False) == {}
    assert "answers.c" in registry.validate_answers(
        "demo", {"c": "yes"}, ex_partner=False, version="1"
    )


# --- bad files --------------------------------------------------------------------------------


def load_error(folder: Path) -> InstrumentFileError:
    with pytest.raises(InstrumentFileError) as exc:
        InstrumentRegistry.load_folder(folder)
    return exc.value


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "good.nl.json", instrument())
    bad = write(tmp_path, "broken.nl.json", '{"id": "demo",')
    err = load_error(tmp_path)
    assert err.path == bad
    assert str(bad) in str(err)
    assert "invalid JSON" in str(err)


def test_duplicate_json_key_is_refused(tmp_path: Path) -> None:
    bad = write(tmp_path, "dup.nl.json", json.dumps(instrument())[:-1] + ', "id": "other"}')
    err = load_error(tmp_path)
    assert err.path == bad
    assert "duplicate key 'id'" in str(err)


def test_duplicate_item_id_names_the_file(tmp_path: Path) -> None:
    items = [
        {"id": "1", "text": "Een?", "ex_partner_only": False},
        {"id": "1", "text": "Nog een?", "ex_partner_only": False},
    ]
    bad = write(tmp_path, "demo.nl.json", instrument(items=items))
    err = load_error(tmp_path)
    assert str(bad) in str(err)
    assert "duplicate item id '1'" in str(err)


def test_missing_field_names_the_file_and_the_field(tmp_path: Path) -> None:
    data = instrument()
    del data["version"]
    bad = write(tmp_path, "demo.nl.json", data)
    err = load_error(tmp_path)
    assert str(bad) in str(err)
    assert "version" in err.problem


def test_missing_ex_partner_flag_is_refused(tmp_path: Path) -> None:
    bad = write(tmp_path, "demo.nl.json", instrument(items=[{"id": "1", "text": "Een?"}]))
    err = load_error(tmp_path)
    assert err.path == bad
    assert "items.0.ex_partner_only" in err.problem


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": "Demo"}, "id"),
        ({"id": "-x"}, "id"),
        ({"id": "d"}, "id"),
        ({"language": "NL"}, "language"),
        ({"language": "dutch"}, "language"),
        ({"version": "v1"}, "version"),
        ({"items": []}, "items"),
        ({"title": "  "}, "title"),
        ({"colour": "red"}, "colour"),
        ({"items": [{"id": "1", "text": "Een?", "ex_partner_only": "no"}]}, "ex_partner_only"),
        ({"items": [{"id": "a b", "text": "Een?", "ex_partner_only": False}]}, "items.0.id"),
    ],
)
def test_invalid_fields_are_refused(tmp_path: Path, overrides: dict[str, Any], field: str) -> None:
    bad = write(tmp_path, "demo.nl.json", instrument(**overrides))
    err = load_error(tmp_path)
    assert err.path == bad
    assert field in err.problem


def test_not_an_object_is_refused(tmp_path: Path) -> None:
    bad = write(tmp_path, "list.json", "[]")
    assert load_error(tmp_path).path == bad


def test_same_id_version_and_language_twice_is_refused(tmp_path: Path) -> None:
    first = write(tmp_path, "a.json", instrument())
    second = write(tmp_path, "b.json", instrument(title="Andere tekst"))
    err = load_error(tmp_path)
    assert err.path == second
    assert str(first) in str(err)


def test_owner_file_with_a_shipped_id_version_and_language_is_refused(tmp_path: Path) -> None:
    shipped = json.loads((SHIPPED_FOLDER / "s-dash-2009.nl.json").read_text(encoding="utf-8"))
    bad = write(tmp_path, "s-dash-2009.nl.json", shipped)
    with pytest.raises(InstrumentFileError) as exc:
        default_registry(tmp_path)
    assert exc.value.path == bad


def test_translations_must_have_the_same_items_and_flags(tmp_path: Path) -> None:
    nl = write(tmp_path, "demo.nl.json", instrument())
    items = [
        {"id": "a", "text": "Question a?", "ex_partner_only": False},
        {"id": "b", "text": "Question b?", "ex_partner_only": False},
        {"id": "x", "text": "Ex-partner only?", "ex_partner_only": False},
    ]
    en = write(tmp_path, "demo.en.json", instrument(language="en", items=items))
    err = load_error(tmp_path)
    assert err.path == nl  # files load in name order: demo.en.json first
    assert str(en) in str(err)
    assert "differ" in err.problem


def test_a_failed_folder_adds_nothing(tmp_path: Path) -> None:
    registry = InstrumentRegistry.load_folder(SHIPPED_FOLDER)
    owner = tmp_path / "owner"
    write(owner, "a.json", instrument())
    write(owner, "b.json", "not json")
    with pytest.raises(InstrumentFileError):
        registry.add_folder(owner)
    assert registry.ids() == ["s-dash-2009"]


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InstrumentFileError, match="not a folder"):
        InstrumentRegistry.load_folder(tmp_path / "missing")


def test_instrument_model_validates_directly() -> None:
    inst = Instrument.model_validate(instrument())
    assert inst.item("x").ex_partner_only is True
    assert [i.id for i in inst.applicable_items(ex_partner=False)] == ["a", "b"]
    with pytest.raises(KeyError):
        inst.item("zz")
