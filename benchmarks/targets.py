"""The targets a benchmark run is judged by (issue #25 point 12, and the earlier ones when both
engines ran), each measured as a ratio within the run, and the helpers that read its results.

A result (scale.bench_scale) holds per engine the `stedi run` it measured
(pipeline_runs.pipeline_run).
"""

from __future__ import annotations

import math

from measure import GiB
from pipeline_runs import succeeded
from stedi.config import DEFAULT_ENGINE, ENGINES

OTHER = next(
    e for e in ENGINES if e != DEFAULT_ENGINE
)  # the engine the default one is compared with
NOTHING_NEW_SECONDS = 2.0  # a run with nothing new at N=1, wall time
NEW_DAY_SHARE = 0.25  # the new day's zone steps / a full rebuild's
DUCKDB_FACTOR = 5  # N=100: the zone steps on the default engine / DuckDB's time
PEAK_MEMORY = 4 * GiB


def gib(n: int) -> str:
    return f"{n / GiB:.2f} GiB"


def spark_sql(r: dict) -> dict | None:
    """The scale's Spark SQL reference when it ran and succeeded."""
    return r["spark_sql"] if "tables" in r["spark_sql"] else None


def counts_cell(mismatches: dict | None) -> str:
    """Whether counts equal DuckDB's, from their mismatches (references.differing); None: the run
    failed."""
    if mismatches is None:
        return "run failed"
    return (
        "differ: " + ", ".join(f"{k} {v['rows']} vs {v['duckdb']}" for k, v in mismatches.items())
        if mismatches
        else "equal"
    )


def same_cell(same: dict | None) -> str:
    if same is None:
        return "not compared (one engine, or a run failed)"
    return (
        f"equal ({same['tables']} tables)"
        if same["equal"]
        else "differ: " + ", ".join(same["differ"])
    )


def places(results: list[dict], real: dict | None) -> list[tuple[str, dict]]:
    """(N or data/raw, engine -> run) of every scale, then data/raw."""
    return [(f"N={r['scale']:g}", r["engines"]) for r in results] + (
        [("data/raw", real["engines"])] if real else []
    )


def engines_of(results: list[dict], real: dict | None) -> list[str]:
    """The engines that ran, in ENGINES' order."""
    ran = {engine for _, runs in places(results, real) for engine in runs}
    return [engine for engine in ENGINES if engine in ran]


def run_cell(p: dict) -> str:
    return f"{p['seconds']:.1f}" if succeeded(p) else f"failed after {p['seconds']:.0f}"


def _against_other(results: list[dict], real: dict | None) -> tuple[str, bool, str] | None:
    ones = [
        (where, runs)
        for where, runs in places(results, real)
        if where in ("N=1", "data/raw") and {DEFAULT_ENGINE, OTHER} <= set(runs)
    ]
    if not ones:
        return None
    ok, details = True, []
    for where, runs in ones:
        mine, other = runs[DEFAULT_ENGINE], runs[OTHER]
        if not (succeeded(mine) and succeeded(other)):
            ok, details = False, details + [f"{where}: a run failed"]
            continue
        ratio = mine["seconds"] / other["seconds"]
        ok &= ratio <= 1 / 3
        details.append(f"{where}: {mine['seconds']:.1f} s / {other['seconds']:.1f} s = {ratio:.2f}")
    return (
        f"`stedi run` at N=1: {DEFAULT_ENGINE} (the default) <= 1/3 of {OTHER}",
        ok,
        "; ".join(details),
    )


def _duckdb(r: dict) -> tuple[str, bool, str] | None:
    if DEFAULT_ENGINE not in r["engines"]:
        return None
    d, spark, mine = r["duckdb"]["seconds"], spark_sql(r), r["engines"][DEFAULT_ENGINE]
    ratios = {e: p["steps_seconds"] / d for e, p in r["engines"].items() if succeeded(p)}
    detail = (
        f"{DEFAULT_ENGINE}: {mine['steps_seconds']:.1f} s (sum of the zone steps) / {d:.1f} s = "
        f"{ratios[DEFAULT_ENGINE]:.1f}x"
        if succeeded(mine)
        else f"{DEFAULT_ENGINE}: the run failed after {mine['seconds']:.0f} s: "
        f"{mine['error'][:160]}"
    )
    detail += f"; {OTHER}: {ratios[OTHER]:.1f}x" if OTHER in ratios else ""
    detail += (
        f"; Spark SQL alone: {spark['seconds']:.1f} s = {spark['seconds'] / d:.1f}x"
        if spark
        else ""
    )
    return (
        f"N={r['scale']:g}: zone steps on {DEFAULT_ENGINE} within {DUCKDB_FACTOR}x the DuckDB "
        "reference",
        ratios.get(DEFAULT_ENGINE, math.inf) <= DUCKDB_FACTOR,
        detail,
    )


def _memory(results: list[dict], real: dict | None) -> tuple[str, bool, str] | None:
    peaks = {}
    for where, runs in places(results, real):
        for engine, p in runs.items():
            peaks[engine] = max(peaks.get(engine, (0, "")), (p["peak_rss"], where))
    if not peaks:
        return None
    return (
        f"peak memory < {PEAK_MEMORY / GiB:g} GiB on every engine that ran",
        all(peak < PEAK_MEMORY for peak, _ in peaks.values()),
        "highest: " + "; ".join(f"{e} {gib(peak)} ({w})" for e, (peak, w) in peaks.items()),
    )


def _new_day(r: dict) -> tuple[str, bool, str] | None:
    inc = r.get("incremental")
    if not inc:
        return None
    runs = [inc[k] for k in ("incremental", "full")]
    if all(map(succeeded, runs)):
        zone, whole = (runs[0][k] / runs[1][k] for k in ("steps_seconds", "seconds"))
        detail = (
            f"zone steps {runs[0]['steps_seconds']:.1f} s / {runs[1]['steps_seconds']:.1f} s = "
            f"{zone:.2f}; "
            f"whole `stedi run` (with the analysis) {runs[0]['seconds']:.1f} s / "
            f"{runs[1]['seconds']:.1f} s = "
            f"{whole:.2f}; {sum(inc['held_files'].values())} new files, {inc['held_records']:,} "
            "records; "
            f"content "
            f"{'identical' if inc['same_content'] else 'DIFFERENT: ' + ', '.join(inc['differ'])}"
        )
        ok = zone <= NEW_DAY_SHARE and inc["same_content"]
    else:
        ok, detail = False, "a run failed"
    return (
        f"N={r['scale']:g}: a run after a new day (~1% of the data) <= 1/4 of a full rebuild (zone "
        "steps), "
        "same lake",
        ok,
        detail,
    )


def _nothing_new(r: dict) -> tuple[str, bool, str] | None:
    again = r.get("nothing_new")
    if not again:
        return None
    ok = succeeded(again) and again["seconds"] < NOTHING_NEW_SECONDS
    detail = (
        f"`stedi run` {again['seconds']:.2f} s (wall time of the command; CPU "
        f"{again.get('cpu_seconds', 0):.2f} s), "
        f"{again['skipped']} steps skipped"
        if succeeded(again)
        else f"failed: {again['error'][:160]}"
    )
    return f"N={r['scale']:g}: a run with nothing new < {NOTHING_NEW_SECONDS:g} s", ok, detail


def _growth(by_scale: dict) -> tuple[str, bool, str] | None:
    if not (10.0 in by_scale and 100.0 in by_scale):
        return None
    ok, details = True, []
    for engine in by_scale[100.0]["engines"]:
        p10, p100 = by_scale[10.0]["engines"].get(engine), by_scale[100.0]["engines"][engine]
        if p10 is None:
            continue
        if not (succeeded(p10) and succeeded(p100)):
            ok, details = False, details + [f"{engine}: a run failed"]
            continue
        t10, t100 = p10["seconds"], p100["seconds"]
        ok &= t100 <= 10 * t10
        details.append(
            f"{engine}: `stedi run` {t10:.1f} s -> {t100:.1f} s = x{t100 / t10:.1f} (exponent "
            f"{math.log10(t100 / t10):.2f}), zone steps "
            f"x{p100['steps_seconds'] / p10['steps_seconds']:.1f}"
        )
    return "N=10 -> N=100 grows no worse than linearly", ok, "; ".join(details)


def targets(results: list[dict], real: dict | None) -> list[tuple[str, bool, str]]:
    """(target, met, what was measured) of every target this run's results can judge."""
    by_scale = {r["scale"]: r for r in results}
    found = [_against_other(results, real)]
    found += [_duckdb(by_scale[100.0])] if 100.0 in by_scale else []
    found += [_memory(results, real)]
    found += [_new_day(r) for r in results]
    found += [_nothing_new(r) for r in results if r["scale"] == 1.0]
    found += [_growth(by_scale)]
    return [t for t in found if t is not None]


def passed(results: list[dict], real: dict | None) -> bool:
    """Every run succeeded; every engine's and Spark SQL's (when run) counts equal DuckDB's; the
    engines' lakes are equal (when two ran); the new day's lake equals a full rebuild's."""
    runs_ok = all(succeeded(p) for _, runs in places(results, real) for p in runs.values())
    counts_ok = all(
        not any(r["count_mismatches"].values())
        and not r["spark_count_mismatches"]
        and (spark_sql(r) or r["spark_sql"].get("skipped"))
        for r in results
    )
    same = [r["same_content"] for r in results] + ([real["same_content"]] if real else [])
    incremental_ok = all((r.get("incremental") or {}).get("same_content", True) for r in results)
    return runs_ok and counts_ok and incremental_ok and all(s is None or s["equal"] for s in same)
