"""Cost of encrypted personal fields on the alarm path: one case card (aware.risk.summary),
read with its fields decrypted, against the same read with the fields taken raw.

    .venv/bin/python bench/encryption.py [--n 2000]

Prints per-card times (median and p99 of single reads) for one key, and for two keys with the
row still under the second (old) key, the worst case while a rotation is pending.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import String, Table, select, type_coerce

from aware import crypto, migrate
from aware.db import make_engine, make_sessionmaker
from aware.risk.models import Case
from aware.risk.summary import case_summaries

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


def _times(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e6)
    return sorted(out)


def _line(label: str, t: list[float]) -> str:
    return (
        f"{label:<44} median {statistics.median(t):7.1f} µs   p99 {t[int(len(t) * 0.99)]:7.1f} µs"
    )


class _Identity:
    """Stands in for the keyring: the same card with decryption costing nothing."""

    def decrypt(self, _token: str) -> str:
        return "1.0"  # parses as a float too


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n
    old, new = crypto.new_key(), crypto.new_key()
    crypto.install(crypto.Keyring([old]))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as s:
            case = Case(
                reference="BENCH-1",
                municipality_code="0344",
                victim_name="Sanne de Vries",
                victim_phone="+31612345678",
                victim_address="Oudegracht 1, 3511 AA Utrecht",
                victim_home_lat=52.0907,
                victim_home_lon=5.1214,
                perpetrator_name="Mark Jansen",
                perpetrator_description="lang, donkere jas, baard",
                perpetrator_vehicle="grijze VW Golf XX-123-Y",
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(case)
            s.commit()
            case_id = case.id
        cases = cast(Table, Case.__table__)
        raw = select(*(type_coerce(c, String()) for c in cases.columns)).where(
            cases.c.id == case_id
        )
        with engine.connect() as conn:
            for _ in range(200):  # warm up
                case_summaries(conn, [case_id], NOW)
            plain = _times(lambda: conn.execute(raw).one(), n)
            card = _times(lambda: case_summaries(conn, [case_id], NOW), n)
            crypto.install(crypto.Keyring([new, old]))
            card_old = _times(lambda: case_summaries(conn, [case_id], NOW), n)
            crypto.install(cast(crypto.Keyring, _Identity()))
            card_free = _times(lambda: case_summaries(conn, [case_id], NOW), n)
        ring = crypto.Keyring([old])
        token = ring.encrypt("Sanne de Vries")
        one = _times(lambda: ring.decrypt(token), n)
        engine.dispose()
    print(_line("case row, fields raw (no decryption)", plain))
    print(_line("case card, decryption replaced by a no-op", card_free))
    print(_line("case card (8 fields decrypted), one key", card))
    print(_line("case card, row under the 2nd of two keys", card_old))
    print(_line("one field decrypted", one))
    extra = statistics.median(card) - statistics.median(card_free)
    print(f"decryption adds ~{extra:.0f} µs per card (target: well under 1000 µs)")


if __name__ == "__main__":
    main()
