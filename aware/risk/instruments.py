"""Risk instruments as data: versioned item lists loaded from JSON files, never hard-coded.

An instrument file holds one instrument in one language: id, version, language, title, source,
license and items (id, text, ex_partner_only). The shipped folder has a public example (the 11
S-DASH 2009 stalking questions); an owner adds the licensed SASH file to the instance folder's
`instruments/` subfolder without changing code (see docs/instruments.md).

Answers are "yes", "no" or "unknown"; a missing item counts as "unknown". The professional
concern level is a separate judgement and is not derived here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
)

Answer = Literal["yes", "no", "unknown"]
ANSWERS: tuple[Answer, ...] = ("yes", "no", "unknown")

INSTRUMENT_ID = r"^[a-z0-9][a-z0-9._-]{1,63}$"
ITEM_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
VERSION = r"^[0-9]{1,8}(\.[0-9]{1,8}){0,3}$"
LANGUAGE = r"^[a-z]{2}$"

# The product is Dutch by default: without an asked language, Dutch first, then English, then
# any other language in alphabetical order.
LANGUAGE_PREFERENCE: tuple[str, ...] = ("nl", "en")

SHIPPED_FOLDER = Path(__file__).with_name("instrument_files")
OWNER_SUBFOLDER = "instruments"  # inside the instance folder
MAX_FILE_BYTES = 1024 * 1024

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class InstrumentItem(BaseModel):
    """One question. `ex_partner_only`: asked only when the stalker is a former intimate partner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=ITEM_ID)]
    text: _Text
    ex_partner_only: StrictBool


class Instrument(BaseModel):
    """One version of an instrument in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=INSTRUMENT_ID)]
    version: Annotated[str, StringConstraints(pattern=VERSION, max_length=32)]
    language: Annotated[str, StringConstraints(pattern=LANGUAGE)]
    title: _Text
    source: str = ""
    license: str = ""
    items: tuple[InstrumentItem, ...]

    @field_validator("items")
    @classmethod
    def _items(cls, items: tuple[InstrumentItem, ...]) -> tuple[InstrumentItem, ...]:
        if not items:
            raise ValueError("at least one item is needed")
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise ValueError(f"duplicate item id {item.id!r}")
            seen.add(item.id)
        return items

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    def item(self, item_id: str) -> InstrumentItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def applicable_items(self, ex_partner: bool) -> tuple[InstrumentItem, ...]:
        """The items to ask: ex-partner-only items only when the stalker is an ex-partner."""
        return tuple(i for i in self.items if ex_partner or not i.ex_partner_only)

    def complete_answers(self, answers: Mapping[str, str], ex_partner: bool) -> dict[str, Answer]:
        """Every applicable item with its answer, "unknown" where none was given.

        Call after validation; values that are not yes/no/unknown are read as "unknown".
        """
        result: dict[str, Answer] = {}
        for item in self.applicable_items(ex_partner):
            value = answers.get(item.id)
            result[item.id] = "yes" if value == "yes" else "no" if value == "no" else "unknown"
        return result


class InstrumentFileError(ValueError):
    """An instrument file could not be loaded; the message names the file and the problem."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class UnknownInstrument(KeyError):
    """No instrument with that id (or not in that language or version)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a dotted numeric version: "2009" < "2015" < "2015.1"."""
    return tuple(int(part) for part in version.split("."))


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "file"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def load_file(path: Path) -> Instrument:
    """Read and validate one instrument file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InstrumentFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InstrumentFileError(path, "file over 1 MiB")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys)
    except UnicodeDecodeError:
        raise InstrumentFileError(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InstrumentFileError(
            path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise InstrumentFileError(path, f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InstrumentFileError(path, "the file must hold one JSON object")
    try:
        return Instrument.model_validate(data)
    except ValidationError as exc:
        raise InstrumentFileError(path, _describe(exc)) from None


_Key = tuple[str, str, str]  # (instrument id, version, language)


class InstrumentRegistry:
    """Instruments by (id, version, language); `get` gives the newest version by default."""

    def __init__(self) -> None:
        self._instruments: dict[_Key, Instrument] = {}
        self._paths: dict[_Key, Path] = {}

    @classmethod
    def load_folder(cls, path: Path | str) -> InstrumentRegistry:
        """A registry with every `*.json` file of one folder."""
        registry = cls()
        registry.add_folder(path)
        return registry

    def add_folder(self, path: Path | str) -> None:
        """Add every `*.json` file of a folder; on any error nothing is added."""
        folder = Path(path)
        if not folder.is_dir():
            raise InstrumentFileError(folder, "not a folder")
        self.add_files(sorted(folder.glob("*.json")))

    def add_files(self, paths: Iterable[Path]) -> None:
        """Add instrument files; on any error nothing is added."""
        instruments = dict(self._instruments)
        sources = dict(self._paths)
        for path in paths:
            instrument = load_file(path)
            _check_new(instrument, path, instruments, sources)
            key = (instrument.id, instrument.version, instrument.language)
            instruments[key] = instrument
            sources[key] = path
        self._instruments = instruments
        self._paths = sources

    def ids(self) -> list[str]:
        return sorted({key[0] for key in self._instruments})

    def versions(self, instrument_id: str) -> list[str]:
        """Versions of an instrument, oldest first."""
        found = {version for (iid, version, _) in self._instruments if iid == instrument_id}
        if not found:
            raise UnknownInstrument(f"unknown instrument {instrument_id!r}")
        return sorted(found, key=version_key)

    def languages(self, instrument_id: str, version: str | None = None) -> list[str]:
        """Languages of one version (default: the newest), in order of preference."""
        version = version or self.versions(instrument_id)[-1]
        found = [
            lang for (iid, v, lang) in self._instruments if (iid, v) == (instrument_id, version)
        ]
        if not found:
            raise UnknownInstrument(f"unknown instrument {instrument_id!r} version {version!r}")
        return _by_preference(found)

    def get(
        self, instrument_id: str, language: str | None = None, *, version: str | None = None
    ) -> Instrument:
        """The instrument in that language (default: Dutch, else English, else any).

        Without `version`, the newest version (in the asked language when one is asked).
        """
        candidates = [
            key
            for key in self._instruments
            if key[0] == instrument_id
            and (version is None or key[1] == version)
            and (language is None or key[2] == language)
        ]
        if not candidates:
            what = f"unknown instrument {instrument_id!r}"
            if version is not None:
                what += f" version {version!r}"
            if language is not None:
                what += f" in language {language!r}"
            raise UnknownInstrument(what)
        newest = max(version_key(key[1]) for key in candidates)
        in_newest = [key for key in candidates if version_key(key[1]) == newest]
        best_language = _by_preference([key[2] for key in in_newest])[0]
        key = next(k for k in in_newest if k[2] == best_language)
        return self._instruments[key]

    def path_of(self, instrument: Instrument) -> Path:
        """The file an instrument was loaded from."""
        return self._paths[(instrument.id, instrument.version, instrument.language)]

    def validate_answers(
        self,
        instrument_id: str,
        answers: Mapping[str, str],
        ex_partner: bool,
        *,
        version: str | None = None,
    ) -> dict[str, str]:
        """Field errors {"answers.<item>": message}; empty when the answers are valid.

        Unknown item ids and values other than yes/no/unknown are errors, and so is a yes or
        no to an ex-partner-only item when the stalker is not an ex-partner. A missing item
        counts as "unknown" and is no error.
        """
        instrument = self.get(instrument_id, version=version)
        items = {item.id: item for item in instrument.items}
        errors: dict[str, str] = {}
        for item_id, value in answers.items():
            field = f"answers.{item_id}"
            item = items.get(item_id)
            if item is None:
                errors[field] = (
                    f"no item {item_id!r} in {instrument.id} version {instrument.version}"
                )
            elif value not in ANSWERS:
                errors[field] = "must be yes, no or unknown"
            elif item.ex_partner_only and not ex_partner and value != "unknown":
                errors[field] = "only for a stalker who is a former intimate partner"
        return errors


def _by_preference(languages: Iterable[str]) -> list[str]:
    def rank(language: str) -> tuple[int, str]:
        if language in LANGUAGE_PREFERENCE:
            return (LANGUAGE_PREFERENCE.index(language), "")
        return (len(LANGUAGE_PREFERENCE), language)

    return sorted(set(languages), key=rank)


def _check_new(
    instrument: Instrument,
    path: Path,
    instruments: Mapping[_Key, Instrument],
    sources: Mapping[_Key, Path],
) -> None:
    """Refuse a second file for one (id, version, language), and translations that disagree."""
    key = (instrument.id, instrument.version, instrument.language)
    if key in instruments:
        raise InstrumentFileError(
            path,
            f"{instrument.id} version {instrument.version} in {instrument.language!r} is "
            f"already loaded from {sources[key]}; give a changed file a new version",
        )
    shape = [(item.id, item.ex_partner_only) for item in instrument.items]
    for other_key, other in instruments.items():
        if other_key[:2] != key[:2]:
            continue
        if [(item.id, item.ex_partner_only) for item in other.items] != shape:
            raise InstrumentFileError(
                path,
                f"items (ids or ex_partner_only flags) differ from the {other.language!r} "
                f"file {sources[other_key]} of the same id and version",
            )
        break


def default_registry(extra_folder: Path | None = None) -> InstrumentRegistry:
    """The shipped instruments plus, when the folder exists, the owner's instrument files.

    Pass the instance folder's `instruments/` subfolder; owner files may add instruments or
    newer versions (a file with an already loaded id, version and language is refused).
    """
    registry = InstrumentRegistry.load_folder(SHIPPED_FOLDER)
    if extra_folder is not None and extra_folder.exists():
        registry.add_folder(extra_folder)
    return registry


__all__ = [
    "ANSWERS",
    "OWNER_SUBFOLDER",
    "SHIPPED_FOLDER",
    "Answer",
    "Instrument",
    "InstrumentFileError",
    "InstrumentItem",
    "InstrumentRegistry",
    "UnknownInstrument",
    "default_registry",
    "load_file",
    "version_key",
]
