"""The shipped CBS municipality list and the CBS file parser (pure, no database)."""

from __future__ import annotations

import pytest

from aware.coordination.reference import (
    ReferenceFileError,
    parse_municipalities,
    shipped_municipalities,
    shipped_regions,
)

HEADER = "Gemeentecode;GemeentecodeGM;Gemeentenaam;Provinciecode;ProvinciecodePV;Provincienaam"


def test_shipped_list_is_every_current_municipality():
    rows = shipped_municipalities()
    by_code = {r.code: r for r in rows}
    assert len(rows) == len(by_code) == 342  # CBS: 342 on 1 January 2024, 2025 and 2026
    assert len({r.province for r in rows}) == 12
    known = {
        "0344": ("Utrecht", "Utrecht"),
        "0363": ("Amsterdam", "Noord-Holland"),
        "0599": ("Rotterdam", "Zuid-Holland"),
        "0518": ("'s-Gravenhage", "Zuid-Holland"),
        "1982": ("Land van Cuijk", "Noord-Brabant"),
        "1991": ("Maashorst", "Noord-Brabant"),
        "1980": ("Dijk en Waard", "Noord-Holland"),
        "1992": ("Voorne aan Zee", "Zuid-Holland"),
        "1900": ("Súdwest-Fryslân", "Fryslân"),
        "1963": ("Hoeksche Waard", "Zuid-Holland"),
    }
    for code, (name, province) in known.items():
        assert (by_code[code].name, by_code[code].province) == (name, province)
    # Merged away: Weesp (into Amsterdam, 2022); Brielle, Hellevoetsluis, Westvoorne (into
    # Voorne aan Zee, 2023); Heerhugowaard and Langedijk (Dijk en Waard, 2022).
    for gone in ("0457", "0501", "0530", "0614", "0398", "0416"):
        assert gone not in by_code


def test_shipped_regions_only_name_known_centres():
    regions = shipped_regions()
    assert regions["0400"] == "0400" and regions["0622"] == "0622"
    assert {c for c, centre in regions.items() if centre == "0400"} == {
        "0400",
        "0441",
        "0448",
        "1911",
    }


def test_cbs_semicolon_file_with_bom_crlf_and_lost_leading_zeros():
    text = (
        f"\ufeff{HEADER}\r\n344;GM0344;Utrecht;26;PV26;Utrecht\r\n"
        "0363;GM0363;Amsterdam;27;PV27;Noord-Holland\r\n\r\n"
    )
    rows = parse_municipalities(text.encode("utf-8"))
    assert [(r.code, r.name, r.province) for r in rows] == [
        ("0344", "Utrecht", "Utrecht"),
        ("0363", "Amsterdam", "Noord-Holland"),
    ]


def test_cp1252_file_from_excel():
    text = f"{HEADER}\n1900;GM1900;Súdwest-Fryslân;21;PV21;Fryslân\n"
    rows = parse_municipalities(text.encode("cp1252"))
    assert rows[0].name == "Súdwest-Fryslân"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty"),
        ("code;name\n0344;Utrecht\n", 1, "missing column"),
        (f"{HEADER}\n", 2, "no municipalities"),
        (f"{HEADER}\nabc;GMabc;X;26;PV26;Utrecht\n", 2, "not a CBS code"),
        (f"{HEADER}\n0344;GM0344;Utrecht;26;PV26;Utrecht\n0344;GM0344;U;26;PV26;U\n", 3, "line 2"),
        (f"{HEADER}\n0344;GM0363;Utrecht;26;PV26;Utrecht\n", 2, "does not match"),
        (f"{HEADER}\n0344;GM0344;;26;PV26;Utrecht\n", 2, "Gemeentenaam"),
        (f"{HEADER}\n0344;GM0344;Utrecht\n", 2, "fields"),
    ],
)
def test_bad_file_names_the_line(text, line, words):
    with pytest.raises(ReferenceFileError) as err:
        parse_municipalities(text)
    assert err.value.line == line and words in str(err.value)
