#!/usr/bin/env python3
"""Generate the DuckDB reference fixture for tickflow's `time_bucket`.

    pip install duckdb
    python3 tests/reference/gen_time_bucket_cases.py

writes tests/reference/time_bucket_cases.csv (next to this script), which
tests/tests/time_bucket_duckdb.rs checks tickflow against.

Deterministic: every random choice comes from random.Random(20261123), and the
DST transition instants are computed from the US / EU rules (not from the
system's tz database), so a rerun with the same DuckDB gives the same file.

CSV columns: kind,width,ts_us,origin_us,tz,expected_us
  kind   a: time_bucket(INTERVAL width, ts::TIMESTAMP)                 (default origin)
         b: time_bucket(INTERVAL width, ts::TIMESTAMP, origin::TIMESTAMP)
         c: time_bucket(INTERVAL width, ts::TIMESTAMPTZ, tz)
         d: as c, with ts within +-3 hours of a DST change of America/New_York
            or Europe/London (2018..2026)
  width       the interval literal text exactly as passed to DuckDB
  ts_us, origin_us, expected_us
              epoch microseconds (UTC instants); origin_us empty unless kind b
  tz          IANA name; empty unless kind c/d

Cases DuckDB rejects (it raises) are skipped and counted, never written.

DuckDB quirk these cases pin down (tickflow documents the same): with a
month/year width and an explicit origin, DuckDB uses only the origin's year and
month; the origin's day and time of day are ignored and buckets start at 00:00
on the 1st. Kind b month widths get both such arbitrary origins and origins on
the 1st at 00:00.
"""

import csv
import datetime as dt
import os
import sys
import time
from collections import Counter

import duckdb
import random

SEED = 20261123
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "time_bucket_cases.csv")

EPOCH = dt.datetime(1970, 1, 1)
US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US

TZS = ["America/New_York", "Europe/London", "Asia/Kolkata"]


def to_us(d: dt.datetime) -> int:
    """Naive datetime (read as UTC) -> epoch microseconds, exactly."""
    delta = d - EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def us_between(rng, lo: dt.datetime, hi: dt.datetime) -> int:
    return rng.randrange(to_us(lo), to_us(hi))


# --------------------------------------------------------------------- widths

def plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


FIXED_SUBDAY = [
    "1 microsecond", "7 microseconds", "1 millisecond", "250 milliseconds",
    "1 second", "15 seconds", "30 seconds", "1 minute", "5 minutes", "9 minutes",
    "15 minutes", "30 minutes", "90 minutes", "1 hour", "2 hours", "4 hours",
    "6 hours", "8 hours", "12 hours", "24 hours", "1 hour 30 minutes",
]
FIXED_DAYS = ["1 day", "2 days", "3 days", "7 days", "1 week", "14 days"]
FIXED_MONTHS = ["1 month", "2 months", "3 months", "6 months", "1 year", "2 years"]
# Naive (non-timezone) only: DuckDB's TIMESTAMPTZ variants reject day+time widths.
FIXED_DAY_AND_TIME = ["1 day 12 hours", "2 days 6 hours"]


def random_subday(rng) -> str:
    unit = rng.choice(["microsecond", "millisecond", "second", "minute", "hour"])
    hi = {"microsecond": 5000, "millisecond": 5000, "second": 7200,
          "minute": 1440, "hour": 72}[unit]
    # favour small multiples, as real widths are
    n = rng.randint(1, 60) if rng.random() < 0.7 else rng.randint(1, hi)
    return plural(n, unit)


def random_width(rng, naive: bool) -> str:
    r = rng.random()
    if r < 0.25:
        return rng.choice(FIXED_SUBDAY)
    if r < 0.55:
        return random_subday(rng)
    if r < 0.70:
        return rng.choice(FIXED_DAYS) if rng.random() < 0.6 else plural(rng.randint(1, 30), "day")
    if r < 0.90:
        if rng.random() < 0.6:
            return rng.choice(FIXED_MONTHS)
        return plural(rng.randint(1, 24), "month") if rng.random() < 0.8 else plural(rng.randint(1, 3), "year")
    if naive and r < 0.95:
        return rng.choice(FIXED_DAY_AND_TIME)
    return rng.choice(FIXED_SUBDAY + FIXED_DAYS + FIXED_MONTHS)


def is_month_width(w: str) -> bool:
    return "month" in w or "year" in w


# ------------------------------------------------------------------ instants

def random_instant(rng) -> int:
    r = rng.random()
    if r < 0.75:
        us = us_between(rng, dt.datetime(1995, 1, 1), dt.datetime(2035, 12, 31))
    elif r < 0.85:  # before 1970: negative epoch values
        us = us_between(rng, dt.datetime(1900, 1, 1), dt.datetime(1970, 1, 1))
    else:  # between 1970 and the default origin 2000-01-03
        us = us_between(rng, dt.datetime(1970, 1, 1), dt.datetime(2000, 1, 3))
    # some instants on round values, so exact bucket boundaries are hit often
    r = rng.random()
    if r < 0.06:
        us -= us % DAY_US
    elif r < 0.12:
        us -= us % HOUR_US
    elif r < 0.16:
        us -= us % US
    return us


def random_origin(rng, width: str) -> int:
    if is_month_width(width) and rng.random() < 0.4:
        y = rng.randint(1960, 2035)
        m = rng.randint(1, 12)
        return to_us(dt.datetime(y, m, 1))
    r = rng.random()
    if r < 0.7:
        return us_between(rng, dt.datetime(1990, 1, 1), dt.datetime(2030, 1, 1))
    if r < 0.85:
        return us_between(rng, dt.datetime(1950, 1, 1), dt.datetime(1970, 1, 1))
    # midnight origins
    return to_us(dt.datetime(rng.randint(1960, 2035), rng.randint(1, 12), rng.randint(1, 28)))


# ---------------------------------------------------------- DST transitions

def nth_weekday(year, month, weekday, n):
    """n-th (1-based) `weekday` (Mon=0) of month; n=-1 for the last one."""
    if n > 0:
        d = dt.date(year, month, 1)
        d += dt.timedelta(days=(weekday - d.weekday()) % 7)
        return d + dt.timedelta(weeks=n - 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    d = nxt - dt.timedelta(days=1)
    return d - dt.timedelta(days=(d.weekday() - weekday) % 7)


def dst_transitions():
    """(tz, utc instant in us) of every DST change 2018..2026 of NY and London."""
    out = []
    for y in range(2018, 2027):
        # US (since 2007): 2nd Sunday of March 02:00 EST = 07:00Z,
        #                  1st Sunday of November 02:00 EDT = 06:00Z
        d = nth_weekday(y, 3, 6, 2)
        out.append(("America/New_York", to_us(dt.datetime(d.year, d.month, d.day, 7))))
        d = nth_weekday(y, 11, 6, 1)
        out.append(("America/New_York", to_us(dt.datetime(d.year, d.month, d.day, 6))))
        # EU: last Sunday of March and of October at 01:00Z
        for month in (3, 10):
            d = nth_weekday(y, month, 6, -1)
            out.append(("Europe/London", to_us(dt.datetime(d.year, d.month, d.day, 1))))
    return out


def near_transition(tz, ts_us) -> bool:
    return any(z == tz and abs(ts_us - t) <= 3 * HOUR_US for z, t in dst_transitions())


DST_WIDTHS = [
    "1 minute", "5 minutes", "15 minutes", "30 minutes", "1 hour", "90 minutes",
    "2 hours", "3 hours", "4 hours", "6 hours", "12 hours", "24 hours",
    "1 day", "7 days", "1 week", "1 month",
]


# ------------------------------------------------------------------ cases

def build_cases(rng):
    """List of dicts with kind, width, ts_us, origin_us, tz (expected filled later)."""
    cases = []

    # (a) naive, default origin
    for _ in range(420):
        cases.append(dict(kind="a", width=random_width(rng, naive=True),
                          ts_us=random_instant(rng), origin_us=None, tz=None))

    # (b) naive, explicit origin
    for _ in range(380):
        w = random_width(rng, naive=True)
        cases.append(dict(kind="b", width=w, ts_us=random_instant(rng),
                          origin_us=random_origin(rng, w), tz=None))

    # (c) TIMESTAMPTZ with a time zone
    for _ in range(480):
        tz = rng.choice(TZS) if rng.random() < 0.85 else "UTC"
        cases.append(dict(kind="c", width=random_width(rng, naive=False),
                          ts_us=random_instant(rng), origin_us=None, tz=tz))

    # (d) around DST transitions, bucketed in the transitioning zone
    for tz, t in dst_transitions():
        for _ in range(12):
            w = rng.choice(DST_WIDTHS)
            r = rng.random()
            if r < 0.15:  # on or right next to the transition instant
                ts = t + rng.choice([-1, 0, 1])
            elif r < 0.25:  # on a round minute
                ts = t + rng.randint(-180, 180) * 60 * US
            else:
                ts = t + rng.randint(-3 * HOUR_US, 3 * HOUR_US)
            cases.append(dict(kind="d", width=w, ts_us=ts, origin_us=None, tz=tz))

    return cases


def sql_for(case) -> str:
    w = case["width"]
    ts = case["ts_us"]
    if case["kind"] == "a":
        call = f"time_bucket(INTERVAL '{w}', make_timestamp({ts}::BIGINT))"
    elif case["kind"] == "b":
        call = (f"time_bucket(INTERVAL '{w}', make_timestamp({ts}::BIGINT), "
                f"make_timestamp({case['origin_us']}::BIGINT))")
    else:
        call = (f"time_bucket(INTERVAL '{w}', make_timestamp({ts}::BIGINT)::TIMESTAMPTZ, "
                f"'{case['tz']}')")
    return f"SELECT epoch_us({call})"


def evaluate(con, cases):
    """Fill case['expected_us']; return (kept, skipped Counter by kind, error samples)."""
    kept, skipped, errors = [], Counter(), Counter()
    for case in cases:
        try:
            (val,) = con.execute(sql_for(case)).fetchone()
        except duckdb.Error as e:
            skipped[case["kind"]] += 1
            errors[f"{case['kind']} {case['width']!r}: {str(e).splitlines()[0]}"] += 1
            continue
        if val is None:
            skipped[case["kind"]] += 1
            errors[f"{case['kind']} {case['width']!r}: NULL result"] += 1
            continue
        case["expected_us"] = int(val)
        kept.append(case)
    return kept, skipped, errors


def boundary_probes(rng, kept):
    """For a sample of kept cases, probe the bucket start itself and 1us before it."""
    probes = []
    for case in rng.sample(kept, len(kept) // 6):
        for delta in (0, -1):
            p = dict(case)
            p.pop("expected_us")
            p["ts_us"] = case["expected_us"] + delta
            if p["kind"] == "d" and not near_transition(p["tz"], p["ts_us"]):
                p["kind"] = "c"  # e.g. the 1st of the month: no longer a DST case
            probes.append(p)
    return probes


def main():
    started = time.monotonic()
    rng = random.Random(SEED)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")

    cases = build_cases(rng)
    kept, skipped, errors = evaluate(con, cases)
    probes = boundary_probes(rng, kept)
    kept_p, skipped_p, errors_p = evaluate(con, probes)
    kept += kept_p
    skipped += skipped_p
    errors += errors_p

    order = {"a": 0, "b": 1, "c": 2, "d": 3}
    kept.sort(key=lambda c: order[c["kind"]])  # stable: keeps generation order inside a kind
    with open(OUT, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["kind", "width", "ts_us", "origin_us", "tz", "expected_us"])
        for c in kept:
            out.writerow([c["kind"], c["width"], c["ts_us"],
                          "" if c["origin_us"] is None else c["origin_us"],
                          c["tz"] or "", c["expected_us"]])

    per_kind = Counter(c["kind"] for c in kept)
    print(f"duckdb {duckdb.__version__}, seed {SEED}")
    print(f"wrote {len(kept)} cases to {os.path.relpath(OUT)} "
          f"({os.path.getsize(OUT)} bytes) in {time.monotonic() - started:.1f}s")
    for k in "abcd":
        print(f"  kind {k}: {per_kind[k]:5d} cases, {skipped[k]} skipped (DuckDB error)")
    print(f"  skipped total: {sum(skipped.values())}")
    for msg, n in errors.most_common(10):
        print(f"    {n:4d} x {msg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
