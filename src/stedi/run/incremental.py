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
(the whole transform) is then not computed at all.

`same_as_current`: a table computed whole whose rows are the same as its current version's
(customer_curated when no new customer got readings) keeps that version, so that the steps
reading it can add rows.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame

from stedi.core.fingerprint import content_fingerprint


def added_rows(lake, declared, table: str, policy) -> DataFrame | None:
    """The rows to add to `table` (see the module docstring), or None when it must be computed whole."""
    if declared is None or not declared.appendable or table not in declared.writes:
        return None
    made = lake.snapshot_meta(table)
    if made.get("policy") != policy or not made.get("inputs") or not lake.exists(table):
        return None
    added = []
    for name in declared.reads:
        now, then = lake.version(name), made["inputs"].get(name)
        if now == then:
            continue
        if name not in declared.appendable or then is None or lake.snapshot_meta(name).get("base") != then:
            return None
        added.append(name)
    if not added:
        return None
    transform = declared.transform_function()
    terms = []
    for i, name in enumerate(added):
        inputs = []
        for other in declared.reads:
            if other == name:
                inputs.append(lake.read_part(other, "new"))
            elif other in added and added.index(other) > i:
                inputs.append(lake.read_part(other, "old"))
            else:
                inputs.append(lake.read(other))
        terms.append(transform(*inputs, policy))
    return reduce(lambda a, b: a.unionByName(b), terms)


def same_as_current(lake, table: str, staged) -> bool:
    """Whether a version computed whole holds exactly the rows of the current one (a bag: counted)."""
    if not lake.exists(table) or staged.rows != lake.rows(table):
        return False
    return content_fingerprint(lake.read_staged(staged)) == content_fingerprint(lake.read(table))
