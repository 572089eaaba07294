#!/usr/bin/env python3
"""Generate the pandas reference for tickflow's analytics window functions.

    pip install pandas
    python3 tests/reference/gen_analytics_cases.py

writes analytics_cases.csv next to this script, which tests/tests/analytics_reference.rs
checks tickflow's analytics window functions against (within 1e-9 relative). Columns:

  symbol, t       three symbols, 300 rows each (t = 0..299)
  close           a seeded random walk, 2 decimals
  high, low       close plus / minus a random amount, 2 decimals
  ema10           close.ewm(span=10, adjust=False).mean()
  ema_a01         close.ewm(alpha=0.1, adjust=False).mean()
  rsi14           Wilder's RSI over 14 changes, written out here from its definition:
                  the first average gain/loss is the mean of changes 1..14 (so the first RSI
                  is at t = 14), then avg = (avg * 13 + current) / 14; RSI = 100 - 100 / (1 + RS);
                  empty (NULL) for t < 14
  macd_line, macd_signal, macd_hist
                  ewm(span=12) - ewm(span=26) of close, its ewm(span=9), their difference
                  (all adjust=False)
  bb_mid, bb_upper, bb_lower
                  close.rolling(20).mean() -/+ 2 * close.rolling(20).std(ddof=0)
  atr14           Wilder's ATR, TA-Lib's seeding: true range from the second row on
                  (max(high - low, |high - prev close|, |low - prev close|)), the first ATR
                  (t = 14) the mean of true ranges 1..14, then (atr * 13 + tr) / 14
  rv20            (r ** 2).rolling(20).sum() ** 0.5, r = log(close / close.shift(1))

Deterministic: random.Random(20191129); a rerun gives a byte-identical file.
"""
import random
from pathlib import Path

import numpy as np
import pandas as pd

rng = random.Random(20191129)
rows = []
for symbol in ["AAA", "BBB", "CCC"]:
    price = 100.0
    for t in range(300):
        price = round(price * (1 + rng.gauss(0, 0.01)), 2)
        high = round(price + abs(rng.gauss(0, 0.5)), 2)
        low = round(price - abs(rng.gauss(0, 0.5)), 2)
        rows.append((symbol, t, price, high, low))
df = pd.DataFrame(rows, columns=["symbol", "t", "close", "high", "low"])


def wilder_rsi(close: pd.Series, n: int) -> pd.Series:
    delta = close.diff()
    gain = delta.clip(lower=0).to_numpy()
    loss = (-delta).clip(lower=0).to_numpy()
    avg_gain = np.full(len(close), np.nan)
    avg_loss = np.full(len(close), np.nan)
    avg_gain[n] = gain[1:n + 1].mean()
    avg_loss[n] = loss[1:n + 1].mean()
    for i in range(n + 1, len(close)):
        avg_gain[i] = (avg_gain[i - 1] * (n - 1) + gain[i]) / n
        avg_loss[i] = (avg_loss[i - 1] * (n - 1) + loss[i]) / n
    rsi = 100 - 100 / (1 + avg_gain / avg_loss)
    rsi = np.where((avg_loss == 0) & (avg_gain > 0), 100.0, rsi)
    return pd.Series(rsi, index=close.index)


def wilder_atr(g: pd.DataFrame, n: int) -> pd.Series:
    prev = g["close"].shift(1)
    tr = pd.concat([g["high"] - g["low"], (g["high"] - prev).abs(), (g["low"] - prev).abs()],
                   axis=1).max(axis=1).to_numpy()
    atr = np.full(len(g), np.nan)
    atr[n] = tr[1:n + 1].mean()
    for i in range(n + 1, len(g)):
        atr[i] = (atr[i - 1] * (n - 1) + tr[i]) / n
    return pd.Series(atr, index=g.index)


parts = []
for symbol, g in df.groupby("symbol", sort=True):
    g = g.sort_values("t").copy()
    g["ema10"] = g["close"].ewm(span=10, adjust=False).mean()
    g["ema_a01"] = g["close"].ewm(alpha=0.1, adjust=False).mean()
    g["rsi14"] = wilder_rsi(g["close"], 14)
    fast = g["close"].ewm(span=12, adjust=False).mean()
    slow = g["close"].ewm(span=26, adjust=False).mean()
    g["macd_line"] = fast - slow
    g["macd_signal"] = g["macd_line"].ewm(span=9, adjust=False).mean()
    g["macd_hist"] = g["macd_line"] - g["macd_signal"]
    mid = g["close"].rolling(20).mean()
    std = g["close"].rolling(20).std(ddof=0)
    g["bb_mid"], g["bb_upper"], g["bb_lower"] = mid, mid + 2 * std, mid - 2 * std
    g["atr14"] = wilder_atr(g, 14)
    r = np.log(g["close"] / g["close"].shift(1))
    g["rv20"] = (r ** 2).rolling(20).sum() ** 0.5
    parts.append(g)
out = Path(__file__).with_name("analytics_cases.csv")
pd.concat(parts).to_csv(out, index=False, float_format="%.17g")
print(f"wrote {out}")
