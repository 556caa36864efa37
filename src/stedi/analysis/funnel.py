"""The consent funnel: rows per table under both policies, recomputed from the same landing tables.

Both policies' tables come from `stedi.run.pipeline.derive`, which calls the zone steps'
transforms as the pipeline declares them; the tables and their order come from that
declaration too. The counts of the run's own policy are then compared with the lake's.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from pyspark.sql import DataFrame

from stedi import config
from stedi.analysis.formatting import count, percent
from stedi.context import Policy
from stedi.core.tables import TABLES
from stedi.run.pipeline import ZONE_STEPS, derive, external_inputs

_DERIVING_STEPS = tuple(step for step in ZONE_STEPS if step.transform)

# The landing tables `derive` starts from: what the transform steps read and none of them writes.
LANDING_TABLES = external_inputs(_DERIVING_STEPS)
# The tables `derive` computes, in pipeline order (each after the tables it reads).
DERIVATION_ORDER = tuple(table for step in _DERIVING_STEPS for table in step.writes)
# The funnel's rows: every table a zone step writes, zone by zone, in pipeline order within a zone.
FUNNEL_TABLES = tuple(
    sorted(
        (table for step in ZONE_STEPS for table in step.writes),
        key=lambda t: config.ZONES.index(TABLES[t].zone),
    )
)

FUNNEL_ENTITIES = {
    "customer_landing": "customers",
    "customer_trusted": "customers",
    "customer_curated": "customers",
    "accelerometer_landing": "accelerometer readings",
    "accelerometer_trusted": "accelerometer readings",
    "step_trainer_landing": "step trainer readings",
    "step_trainer_trusted": "step trainer readings",
    "machine_learning_curated": "ML rows",
}

# The landing columns the pipeline's transforms read (and the ML table's selected columns):
# the funnel reads and caches only these.
FUNNEL_COLUMNS = {
    "customer_landing": ("email", "serialNumber", "shareWithResearchAsOfDate"),
    "accelerometer_landing": ("user", "timestamp", "x", "y", "z"),
    "step_trainer_landing": ("sensorReadingTime", "serialNumber", "distanceFromObject"),
}


def consent_funnel(landing: dict[str, DataFrame]) -> pd.DataFrame:
    """Rows per table under each policy: one row per table (`FUNNEL_TABLES`), columns table, zone,
    entity, <policies>.

    `landing` maps each of `LANDING_TABLES` to its DataFrame. Counts only: each policy's
    tables are derived from the same landing tables (cache them first, `FUNNEL_COLUMNS`
    only; the landing counts are shared by both policies). The counts are plain ints. The
    cache only saves work: on an engine where it does nothing (Sail), each count computes
    its table from the landing tables, with the same result.
    """
    landing_rows = {name: int(landing[name].count()) for name in LANDING_TABLES}
    rows = {
        name: {"table": name, "zone": TABLES[name].zone, "entity": FUNNEL_ENTITIES[name]}
        for name in FUNNEL_TABLES
    }

    def policy_counts(policy: str) -> dict[str, int]:
        tables = derive(landing, policy)
        counts, cached = dict(landing_rows), []
        # In dependency order, each cached once counted: the later tables reuse the earlier ones.
        for name in DERIVATION_ORDER:
            table = tables[name].cache()
            cached.append(table)
            counts[name] = int(table.count())
        for table in cached:
            table.unpersist()
        return counts

    # Both policies at once, on threads sharing the Spark session (many small jobs: while one
    # waits on the driver, the other uses the cores).
    with ThreadPoolExecutor(len(Policy), thread_name_prefix="stedi-funnel") as pool:
        for policy, counts in zip(Policy, pool.map(policy_counts, Policy)):
            for name, n in counts.items():
                rows[name][policy.value] = n
    return pd.DataFrame(list(rows.values()))


def recorded_rows(manifest: dict | None, paths: dict[str, str]) -> dict[str, int]:
    """Rows of each table as the run wrote it (its manifest's `tables`), for the tables whose
    recorded path is `paths[name]`.

    A table recorded at another path (another lake) is left out: count it instead.
    """
    tables = (manifest or {}).get("tables") or {}
    return {
        name: int(t["rows"])
        for name, t in tables.items()
        if name in paths and t.get("rows") is not None and str(t.get("path")) == str(paths[name])
    }


def lake_rows_source(recorded: dict[str, int], counted: dict[str, int]) -> str:
    """Where the lake's row counts compared with the recomputation come from, for the funnel's
    caption."""
    if recorded and counted:
        return f"row counts from this run's manifest; {', '.join(counted)} counted in the lake"
    if recorded:
        return "row counts as written by this run, from its manifest"
    return "row counts read from the lake" if counted else ""


def funnel_mismatches(
    funnel: pd.DataFrame, lake_rows: dict[str, int], policy: str
) -> dict[str, tuple[int, int]]:
    """Tables whose row count in the lake differs from the recomputed one: name -> (recomputed, in
    the lake)."""
    recomputed = dict(zip(funnel["table"], funnel[policy]))
    return {
        name: (int(recomputed[name]), int(rows))
        for name, rows in lake_rows.items()
        if name in recomputed and int(recomputed[name]) != int(rows)
    }


def funnel_sentence(
    funnel: pd.DataFrame,
    mismatches: dict[str, tuple[int, int]],
    policy: str,
    lake_rows_from: str = "",
) -> str:
    """The funnel's caption; `lake_rows_from` says where the lake's row counts come from (appended
    in parentheses)."""
    n = dict(zip(funnel["table"], funnel.to_dict("records")))
    c_land, c_trust = n["customer_landing"]["strict"], n["customer_trusted"]["strict"]
    a_u, a_s = n["accelerometer_trusted"]["udacity"], n["accelerometer_trusted"]["strict"]
    s_u, s_s = n["step_trainer_trusted"]["udacity"], n["step_trainer_trusted"]["strict"]
    cc_u, cc_s = n["customer_curated"]["udacity"], n["customer_curated"]["strict"]
    m_u, m_s = n["machine_learning_curated"]["udacity"], n["machine_learning_curated"]["strict"]
    text = (
        f"Consent keeps {count(c_trust)} of {count(c_land)} customers "
        f"({percent(c_trust, c_land)}). "
        f"Time-bounded consent (strict) then drops {count(a_u - a_s)} of the rubric's {count(a_u)} "
        "trusted "
        f"accelerometer readings ({percent(a_u - a_s, a_u)}, taken before their owner consented), "
        f"{count(cc_u - cc_s)} curated customers and {count(s_u - s_s)} step trainer readings; "
        f"the ML table has {count(m_u)} rows under udacity and {count(m_s)} under strict. "
    )
    if mismatches:
        diffs = ", ".join(
            f"{name} {count(a)} recomputed vs {count(b)} in the lake"
            for name, (a, b) in mismatches.items()
        )
        text += f"The lake's tables (policy {policy}) differ from the recomputation: {diffs}."
    else:
        text += f"The lake's tables (policy {policy}) hold exactly the recomputed {policy} counts."
    if lake_rows_from:
        text = text[:-1] + f" ({lake_rows_from})."
    return text
