"""End to end: `stedi run` on the real exports in both policies on the default engine and in the
strict policy on Spark, and every notebook under nbval.

The three `stedi run`s are the session's clean builds (conftest.clean_builds), shared with
tests/e2e/test_robustness.py; no test here writes to them. The udacity policy on Spark is not a
fourth build (48 s, a JVM warming up): the runner and the notebooks on Spark are the strict
build's, and tests/engine/test_engines.py derives both policies' tables from the real landing
tables on both engines and finds them equal, table by table, by content, with the same counts and
the same quality rule outcomes."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import papermill
import pytest

from stedi import config
from stedi.run.folder import LATEST, STEPS_DIR, RunFolder
from stedi.run.pipeline import PIPELINE, ZONE_STEPS

LANDING = {"customer_landing": 956, "accelerometer_landing": 81_273, "step_trainer_landing": 28_680}
EXPECTED = {
    "udacity": {
        **LANDING,
        "customer_trusted": 482,
        "accelerometer_trusted": 40_981,
        "step_trainer_trusted": 14_460,
        "customer_curated": 482,
        "machine_learning_curated": 43_681,
    },
    "strict": {
        **LANDING,
        "customer_trusted": 482,
        "accelerometer_trusted": 32_025,
        "step_trainer_trusted": 11_297,
        "customer_curated": 464,
        "machine_learning_curated": 32_025,
    },
}
STEP_NAMES = [step.name for step in PIPELINE]


@pytest.fixture(
    scope="module",
    params=[("udacity", config.DEFAULT_ENGINE)] + [("strict", e) for e in config.ENGINES],
    ids="-".join,
)
def finished_run(request, clean_builds):
    policy, engine = request.param
    lake, run_dir, manifest, stdout = clean_builds(policy, engine)
    assert manifest["engine"] == engine
    return policy, lake, run_dir, manifest, stdout


@pytest.mark.e2e
def test_counts_match_the_policy(finished_run):
    policy, _, _, manifest, _ = finished_run
    assert manifest["status"] == "succeeded"
    assert manifest["policy"] == policy
    engine = manifest["engine"]
    steps = PIPELINE if engine == config.DEFAULT_ENGINE else ZONE_STEPS  # conftest.CleanBuilds
    assert [s["name"] for s in manifest["steps"]] == [step.name for step in steps]
    assert {s["status"] for s in manifest["steps"]} == {"succeeded"}
    assert {name: t["rows"] for name, t in manifest["tables"].items()} == EXPECTED[policy]


@pytest.mark.e2e
@pytest.mark.parametrize("policy", ["udacity", "strict"])
def test_run_folder_holds_every_executed_notebook_and_its_html(policy, clean_builds):
    # The default engine's builds: the whole pipeline, the analysis and its figures included.
    _, run_dir, manifest, stdout = clean_builds(policy)
    folder = RunFolder(run_dir)
    assert [s["name"] for s in manifest["steps"]] == STEP_NAMES
    for step in manifest["steps"]:
        assert step["status"] == "succeeded" and step["seconds"] > 0
        executed = nbformat.read(folder.notebook(step["name"]), as_version=4)
        assert any(c.get("outputs") for c in executed.cells)  # the executed copy, not the source
        assert "<html" in (run_dir / step["html"]).read_text()
    assert (
        "consenting_customers" not in (run_dir / f"{PIPELINE[1].name}.html").read_text()
    )  # for readers: no code
    assert "consenting_customers" in (run_dir / f"{PIPELINE[1].name}.code.html").read_text()
    index = folder.index_path.read_text()
    for step in manifest["steps"]:
        assert f'href="{step["html"]}"' in index
    for name, table in manifest["tables"].items():
        assert name in index and f"{table['rows']:,}" in index
    figures = [p.stem for p in folder.figures()]
    assert "funnel" in figures and len(figures) >= 8
    assert index.count("data:image/png;base64,") >= len(figures)
    assert (run_dir.parent / LATEST).resolve() == run_dir
    for name, rows in EXPECTED[manifest["policy"]].items():
        assert f"{rows:>10,}" in stdout and name in stdout  # the closing table of counts


@pytest.mark.e2e
def test_lake_tables_are_where_the_manifest_says_with_their_declared_types(finished_run, spark):
    policy, lake, _, manifest, _ = finished_run
    from stedi.core.schemas import schema_difference
    from stedi.core.tables import table
    from stedi.lake.icelake import IcebergTables

    reader = IcebergTables(spark, str(lake), policy=policy)
    for name, entry in manifest["tables"].items():
        spec = table(name)
        assert entry["path"] == f"{lake}/{spec.zone}/{name}"
        df = reader.read(name)
        assert schema_difference(df.schema, spec.columns_for(policy)) == []
        assert df.count() == entry["rows"]
    if policy == "strict":
        ml = set(reader.read("machine_learning_curated").columns)
        assert not ml & {"user", "email", "customerName", "phone", "birthDay"}


@pytest.mark.notebook
def test_every_zone_notebook_runs_under_nbval_and_builds_the_strict_lake(
    tmp_path, sail, clean_fingerprints
):
    """Each zone notebook, its parameters pointed at one scratch lake, executes top to bottom under
    nbval, in its own kernel, in order; the lake they build is the one `stedi run` builds."""
    from lakes import fingerprints

    lake, folder = tmp_path / "lake", RunFolder(tmp_path / "run")
    prepared = []
    for step in ZONE_STEPS:
        out = tmp_path / f"{step.name}.ipynb"
        papermill.execute_notebook(
            str(step.notebook),
            str(out),
            parameters={"lake_dir": str(lake), "run_dir": str(folder.path)},
            prepare_only=True,
            kernel_name=config.LOCAL_KERNEL,
            language="python",
        )
        prepared.append(str(out))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", *prepared],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    records = {step.name: folder.read_record(step.name) for step in ZONE_STEPS}
    assert None not in records.values(), records
    assert sorted(p.stem for p in (folder.path / STEPS_DIR).glob("*.json")) == sorted(records)
    rows = {t: w["rows"] for r in records.values() for t, w in r["tables"].items()}
    assert rows == EXPECTED["strict"]
    assert fingerprints(sail, lake) == clean_fingerprints("strict")


@pytest.mark.e2e
def test_sql_validation_queries_agree_with_the_manifest(finished_run, spark):
    policy, lake, _, manifest, _ = finished_run
    from stedi.lake.icelake import IcebergTables

    reader = IcebergTables(spark, str(lake), policy=policy)
    reader.register_existing()
    counts = reader.sql((config.SQL_DIR / "validate_counts.sql").read_text()).collect()
    assert {r["table_name"]: r["row_count"] for r in counts} == {
        n: t["rows"] for n, t in manifest["tables"].items()
    }
    privacy = {
        r["check_name"]: r["violations"]
        for r in reader.sql((config.SQL_DIR / "validate_privacy.sql").read_text()).collect()
    }
    assert privacy["customers without research consent in customer_trusted"] == 0
    if policy == "strict":
        assert set(privacy.values()) == {0}
    else:  # the rubric keeps readings from before consent: the strict policy exists because of them
        assert privacy["accelerometer readings taken before their owner consented"] > 0


@pytest.mark.e2e
def test_manifest_quality_lists_every_rule_and_no_error_failed(finished_run):
    policy, _, _, manifest, _ = finished_run
    from stedi.core import quality

    assert set(manifest["quality"]) == set(manifest["tables"])
    for name, results in manifest["quality"].items():
        assert [r["rule"] for r in results] == [
            rule.name for rule in quality.rules_for(name, policy)
        ]
        assert not [r for r in results if r["outcome"] == "failed"], name
    # The data findings of the real exports are reported, with counts.
    findings = {
        r["rule"]: r["rows_failing"]
        for r in manifest["quality"]["customer_landing"]
        if r["outcome"] == "warned"
    }
    assert findings["phone_unique"] == 956


@pytest.fixture(scope="module")
def messy_raw(tmp_path_factory):
    """Every real record, spread over files that mix every intake defect
    (tests/intake_fixtures.py)."""
    import intake_fixtures as fx

    raw = tmp_path_factory.mktemp("messy") / "raw"
    exports = {}
    for source in ("customer", "accelerometer", "step_trainer"):
        exports[source] = fx.write_exports(
            raw, source, fx.mixed_exports(source, fx.real_records(source))
        )
    return raw, exports


@pytest.mark.e2e
# The strict policy only: a udacity build on Spark would be a fourth clean build (see the module
# docstring); the intake, compared here, does not depend on the policy.
@pytest.mark.parametrize("policy", ["strict"])
def test_both_engines_build_the_same_lake(policy, clean_builds, clean_fingerprints):
    spark_lake, sail_lake = clean_fingerprints(policy, "spark"), clean_fingerprints(policy, "sail")
    assert {name: rows for name, (rows, _) in sail_lake.items()} == EXPECTED[policy]
    assert sail_lake == spark_lake
    # The intake made the same of every raw file: records read, landed, quarantined, dropped,
    # per table (without the seconds it took and the lake's path). Its record-by-record
    # comparison on both engines is in tests/core/test_intake_engines.py, on exports that have
    # something to quarantine.
    intake = {
        engine: {
            name: {k: v for k, v in acc.items() if k not in ("seconds", "quarantine_path")}
            for name, acc in clean_builds(policy, engine)[2]["intake"].items()
        }
        for engine in config.ENGINES
    }
    assert intake["sail"] == intake["spark"]
    assert all(
        a["read"] == a["landed"] > 0 and a["repaired_files"] == 0 for a in intake["sail"].values()
    )


@pytest.mark.e2e
def test_messy_exports_build_the_same_lake_as_the_clean_ones(
    messy_raw, tmp_path, sail, clean_fingerprints
):
    # Every real record, in files mixing every defect the intake knows: each record lands
    # exactly once, each defect is quarantined with its reason and each copy dropped, as the
    # fixtures say, and the lake is the clean one. One policy is enough: the intake, where the
    # defects are, does not depend on it, and the fingerprints cover every table downstream of
    # it. One engine, the default: the intake of messy exports is the same on Spark as on Sail
    # record by record (test_intake_engines.py), and downstream of equal landing tables both
    # engines build the same lake (above).
    from collections import Counter

    from lakes import ZONE_STEPS_ONLY, fingerprints, stedi_run
    from stedi.core.tables import landing_table

    raw, exports = messy_raw
    engine = config.DEFAULT_ENGINE
    lake, runs = tmp_path / "lake", tmp_path / "runs"
    done = stedi_run(lake, runs, "--raw-dir", str(raw), "--engine", engine, *ZONE_STEPS_ONLY)
    manifest = RunFolder.latest(runs).read_manifest()
    assert manifest["policy"] == "strict"
    # The end of the run names what the quarantine holds, per table and reason.
    held = {name: acc for name, acc in manifest["intake"].items() if acc["quarantined"]}
    line = next(x for x in done.stdout.splitlines() if x.startswith("  quarantine: "))
    assert line.startswith(
        f"  quarantine: {sum(a['quarantined'] for a in held.values()):,} records held out of the "
        "landing tables ("
    )
    for name, acc in held.items():
        reasons = ", ".join(f"{r} {n:,}" for r, n in acc["quarantine_reasons"].items())
        assert f"{name} {acc['quarantined']:,}: {reasons}" in line
    assert {name: manifest["tables"][name]["rows"] for name in LANDING} == LANDING
    for source, files in exports.items():
        accounting = manifest["intake"][landing_table(source)]
        reasons = sum((e.reasons for e in files.values()), Counter())
        duplicates = sum(e.duplicates for e in files.values())
        assert accounting["balanced"] and accounting["landed"] == LANDING[landing_table(source)]
        assert accounting["quarantine_reasons"] == dict(sorted((+reasons).items())), source
        assert accounting["duplicates_dropped"] == duplicates, source
        assert {"not_json", "truncated", "bad_type", "missing_required_field"} <= set(reasons), (
            source
        )
    assert "superseded" in manifest["intake"]["customer_landing"]["quarantine_reasons"]
    assert fingerprints(sail, lake) == clean_fingerprints("strict", engine)
