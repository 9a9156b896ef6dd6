"""The core of `affected` in polars, for the speed comparison (benches/affected.sh): the same
window in the shop's zone (2020-04-27..2021-12-22, Asia/Tokyo, end exclusive at the next
midnight), the same card filter (the card payment methods of the synthetic shape), and the
distinct normalised e-mails (trimmed, lower-cased). Lazy `scan_csv`, every column read as text.

Prints the distinct e-mail count (to check both tools agree) and the wall time."""
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

path = sys.argv[1]
tz = ZoneInfo("Asia/Tokyo")
start = datetime(2020, 4, 27, tzinfo=tz)
end = datetime(2021, 12, 23, tzinfo=tz)
card_methods = ["クレジットカード決済", "credit_card"]

t0 = time.perf_counter()
at = pl.col("Ordered At").str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="Asia/Tokyo")
q = (
    pl.scan_csv(path, infer_schema=False)
    .filter(pl.col("Payment Method").str.strip_chars().is_in(card_methods))
    .filter((at >= start) & (at < end))
    .select(pl.col("Email").str.strip_chars().str.to_lowercase().n_unique().alias("emails"))
)
emails = q.collect()["emails"][0]
print(f"polars: {emails} distinct e-mails in {time.perf_counter() - t0:.3f} s")
