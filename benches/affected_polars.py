"""The core of `affected` in polars, for the speed comparison (benches/affected.sh): the same
window in the shop's zone (2020-04-27..2021-12-22, Asia/Tokyo, end exclusive at the next
midnight), the same card filter (the card payment methods of the synthetic shape), and the
distinct normalised e-mails (trimmed, lower-cased). Lazy `scan_csv`, every column read as text.

Usage: affected_polars.py ORDERS.csv [OUT_DIR]. Without OUT_DIR it prints the distinct e-mail
count (to check both tools agree) and the wall time: the job the speed targets name.

With OUT_DIR the same job is taken as far as `affected`'s outputs: the in-window card orders
written to orders.csv (each card number cut to its first 6 and last 4, in time order), and one
record per normalised e-mail with its name, login ids, region, cards, order ids, count and
first and last order time, written to affected.jsonl and affected.csv. It still does less than
`affected`: no Luhn check, brand or keyed fingerprint of the cards, no card search in the other
cells, people linked by e-mail only (not by login id too), no digest of the input, no count of
what was left out and why."""
import os
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

path = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else None
tz = ZoneInfo("Asia/Tokyo")
start = datetime(2020, 4, 27, tzinfo=tz)
end = datetime(2021, 12, 23, tzinfo=tz)
card_methods = ["クレジットカード決済", "credit_card"]

t0 = time.perf_counter()
at = pl.col("Ordered At").str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="Asia/Tokyo")
in_window_cards = (
    pl.scan_csv(path, infer_schema=False)
    .filter(pl.col("Payment Method").str.strip_chars().is_in(card_methods))
    .with_columns(at.alias("at"))
    .filter((pl.col("at") >= start) & (pl.col("at") < end))
    .with_columns(pl.col("Email").str.strip_chars().str.to_lowercase().alias("email"))
)

if out is None:
    emails = in_window_cards.select(pl.col("email").n_unique()).collect().item()
    print(f"polars: {emails} distinct e-mails in {time.perf_counter() - t0:.3f} s")
    sys.exit(0)

os.makedirs(out, exist_ok=True)
card = pl.col("Card Number").str.strip_chars()
orders = (
    in_window_cards.with_columns(
        (card.str.slice(0, 6) + pl.lit("******") + card.str.slice(-4)).alias("masked")
    )
    .drop("Card Number")
    .collect()
)
orders.sort("at", "Order ID").write_csv(os.path.join(out, "orders.csv"))
people = (
    orders.sort("email", "at")
    .group_by("email", maintain_order=True)
    .agg(
        pl.col("Card Holder").last().alias("name"),
        pl.col("Login ID").unique().sort().alias("login_ids"),
        pl.col("Prefecture").last().alias("region"),
        pl.col("masked").unique().sort().alias("cards"),
        pl.col("Order ID").alias("order_ids"),
        pl.len().alias("order_count"),
        pl.col("at").first().alias("first_order_at"),
        pl.col("at").last().alias("last_order_at"),
    )
)
people.write_ndjson(os.path.join(out, "affected.jsonl"))
people.with_columns(
    pl.col(c).list.join("; ") for c in ["login_ids", "cards", "order_ids"]
).write_csv(os.path.join(out, "affected.csv"))
print(
    f"polars: {people.height} people, {orders.height} orders written "
    f"in {time.perf_counter() - t0:.3f} s"
)
