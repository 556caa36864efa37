"""Adding rows to a trusted or curated table instead of computing it whole.

A zone step declares the inputs its transform distributes over (`pipeline.PipelineStep.appendable`):
accelerometer_trusted is the landing readings filtered by customer_trusted, so new landing
rows give new trusted rows and nothing else changes. Each table version records the versions
of the inputs it was made from (its marker's `inputs`); a version that added rows to another
records that one (`base`), and its files tell the rows it had (`base-*`) from the new ones.

When a step publishes a table and, since the table was made, its appendable inputs have only
had rows added (each at most once) and its other inputs are unchanged, `added_rows` computes
the transform on the new rows only. With several appendable inputs A, B (the ML table:
step trainer readings joined with accelerometer readings), f(A', B') = f(A, B) + f(A' - A, B')
+ f(A, B' - B) for a transform that distributes over each: the new rows of each input with the
earlier inputs' whole new tables and the later inputs' old ones. The frame the notebook passed
(the whole transform) is then not computed at all. Two appendable inputs that the transform pairs
by equal values (`pipeline.PipelineStep.paired_on`: the ML table's sensorReadingTime = timestamp)
are each narrowed, in the term of the other's new rows, to the rows whose value is one of the new
rows' (a range filter the Parquet scan can use, then a semi-join with their distinct values):
the result is the same, without joining a whole input again.

A transform that keeps the rows of its first input having a match in another input B
(`pipeline.PipelineStep.filtered_by`: customer_curated keeps the trusted customers with readings)
gains, when rows were added to B, the rows of its first input that match a new row of B and no old
one: f(A, B + new) = f(A, B) + (g - f(g, B)) with g = f(A, new), a bag difference of the few rows
g holds. So customer_curated, and the tables made from it, are added to rather than made again
when a new day brings readings of customers who had none.

`same_as_current`: a table computed whole whose rows are the same as its current version's
(customer_curated when no new customer got readings) keeps that version, so that the steps
reading it can add rows. The row counts are compared first (from the snapshots' summaries and the
staged files' footers); only equal counts need the contents, both hashed in one engine job.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def added_rows(lake, declared, table: str, policy) -> DataFrame | None:
    """The rows to add to `table` (see the module docstring), or None when it must be computed
    whole."""
    if declared is None or table not in declared.writes:
        return None
    appendable = set(declared.appendable) | {n for n, p in declared.appendable_under if p == policy}
    filters = set(declared.filtered_by)
    if not appendable and not filters:
        return None
    made = lake.snapshot_meta(table)
    if made.get("policy") != policy or not made.get("inputs") or not lake.exists(table):
        return None
    added, filtered = [], []
    for name in declared.reads:
        now, then = lake.version(name), made["inputs"].get(name)
        if now == then:
            continue
        if (
            name not in appendable | filters
            or then is None
            or lake.snapshot_meta(name).get("base") != then
        ):
            return None
        (filtered if name in filters else added).append(name)
    if (not added and not filtered) or len(filtered) > 1:
        return None
    transform = declared.transform_function()
    paired = dict(declared.paired_on)
    terms = []
    for i, name in enumerate(added):
        new = lake.read_part(name, "new")
        inputs = []
        for other in declared.reads:
            if other == name:
                inputs.append(new)
                continue
            if other in added and added.index(other) > i:
                frame = lake.read_part(other, "old")
            else:
                frame = lake.read(other)
            if name in paired and other in paired:
                frame = _pairing_with(frame, paired[other], new, paired[name])
            inputs.append(frame)
        terms.append(transform(*inputs, policy))
    for name in filtered:
        terms.append(_newly_kept(lake, declared, transform, policy, name, added))
    return reduce(lambda a, b: a.unionByName(b), terms)


def _newly_kept(lake, declared, transform, policy, name: str, added: list[str]) -> DataFrame:
    """f(A, B + new) - f(A, B) for a transform that keeps the rows of its first input A having a
    match in input `name` (B): the rows of A matching a new row of B (`kept`) less those matching
    an old one, A and the other inputs as they were (their old rows when rows were added)."""
    first = declared.reads[0]

    def inputs(**given: DataFrame) -> list[DataFrame]:
        return [
            given[r] if r in given else (lake.read_part(r, "old") if r in added else lake.read(r))
            for r in declared.reads
        ]

    kept = transform(*inputs(**{name: lake.read_part(name, "new")}), policy)
    before = transform(*inputs(**{first: kept, name: lake.read_part(name, "old")}), policy)
    return kept.exceptAll(before)


def _pairing_with(frame: DataFrame, column: str, new: DataFrame, new_column: str) -> DataFrame:
    """The rows of `frame` whose `column` equals `new_column` of some row of `new` (an inner
    equi-join on them pairs no other row): first the range of `new`'s values as a filter the scan
    can push down, then a semi-join with their distinct values (few: the new rows', broadcast)."""
    low, high = new.agg(F.min(new_column), F.max(new_column)).first()
    if low is None:  # no new row has a value: none pairs with any row
        return frame.limit(0)
    values = (
        new.select(F.col(new_column).alias("_paired_value"))
        .where(F.col("_paired_value").isNotNull())
        .distinct()
    )
    ranged = frame.where(F.col(column).between(F.lit(low), F.lit(high)))
    return ranged.join(F.broadcast(values), F.col(column) == F.col("_paired_value"), "left_semi")


def _contents(*frames: DataFrame) -> list[tuple[int, int]]:
    """(rows, sum of the rows' 64-bit hashes) of each frame, all in one engine job."""
    tagged = [
        frame.select(
            F.lit(i).alias("_frame"),
            F.xxhash64(*frame.columns).cast("decimal(38,0)").alias("_hash"),
        )
        for i, frame in enumerate(frames)
    ]
    rows = (
        reduce(lambda a, b: a.unionByName(b), tagged)
        .groupBy("_frame")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("_hash").alias("hash"))
        .collect()
    )
    found = {row["_frame"]: (int(row["rows"]), int(row["hash"] or 0)) for row in rows}
    return [found.get(i, (0, 0)) for i in range(len(frames))]


def same_as_current(lake, table: str, staged) -> bool:
    """Whether a version computed whole holds exactly the rows of the current one (a bag:
    counted)."""
    if not lake.exists(table) or staged.rows != lake.rows(table):
        return False
    if staged.append and lake.version(table) == str(staged.base):
        return staged.added_rows == 0  # the current rows, and the staged ones added to them
    staged_content, current_content = _contents(lake.read_staged(staged), lake.read(table))
    return staged_content == current_content
