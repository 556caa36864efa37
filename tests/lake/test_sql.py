"""sql/: the Athena DDL and the declared list of validate_schema.sql agree with the declared tables;
SQL text splits into the statements both engines run; validate_schema.sql and summary_queries.sql on
real built lakes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.types import LongType, StringType
from pyspark.sql import functions as F

from aws_fixtures import one_line_error
from lakes import STEDI, copy_lake
from stedi import config
from stedi.cli import main
from stedi.core.sqltext import statements
from stedi.core.tables import DIRECT_IDENTIFIERS, SOURCES, TABLES, landing_table, table
from stedi.lake.catalogs import forget_catalogs
from stedi.lake.iceberg import IcebergLake
from stedi.lake.icelake import IcebergTables
from stedi.lake.iceschema import iceberg_schema
from stedi.lake.information_schema import register_information_schema


def ddl_columns(text: str) -> list[tuple[str, str]]:
    body = text[text.index("(") + 1 : text.index("\n)")]
    return [tuple(m) for m in re.findall(r"`(\w+)`\s+(\w+)", body)]


@pytest.mark.parametrize("source", SOURCES)
def test_landing_ddl_has_the_declared_columns_and_types(source):
    name = landing_table(source)
    text = (config.SQL_DIR / f"{name}.sql").read_text()
    assert f"`stedi`.`{name}`" in text
    assert "TBLPROPERTIES ('table_type' = 'ICEBERG')" in text and "SERDE" not in text
    assert f"landing/{name}/" in text
    assert ddl_columns(text) == list(table(name).columns)


def test_statements_drop_leading_comments_and_empty_statements():
    text = "-- counts\n-- of all\nSELECT 1 AS a -- trailing\n;\n\n-- nothing here\n;SELECT 2"
    assert statements(text) == ["SELECT 1 AS a -- trailing", "SELECT 2"]


def test_a_semicolon_in_a_string_name_or_comment_does_not_end_a_statement():
    text = (
        "-- first; the counts\n"
        "SELECT 'x;y' AS `a;b`, \"c;d\" /* e; f */ FROM t WHERE s = 'it''s;' AND r = "
        "'back\\';slash';\n"
        "SELECT 3/4 - 1 -- tail; here\n"
    )
    assert statements(text) == [
        "SELECT 'x;y' AS `a;b`, \"c;d\" /* e; f */ FROM t WHERE s = 'it''s;' AND r = "
        "'back\\';slash'",
        "SELECT 3/4 - 1 -- tail; here",
    ]
    assert statements("SELECT 'never closed; at all") == ["SELECT 'never closed; at all"]


# --- sql/validate_schema.sql and sql/summary_queries.sql ------------------------------------------

# Athena's (Trino's) names of the declared types, the names validate_schema.sql compares in.
ATHENA_TYPES = {"string": "varchar", "int": "integer", "bigint": "bigint", "double": "double"}


def sql_file(name: str) -> str:
    return (config.SQL_DIR / name).read_text(encoding="utf-8")


def schema_problems(spark, lake_dir, policy: str = "strict") -> dict[str, tuple[str, int, str]]:
    """table -> (layout, problems, detail): validate_schema.sql on the lake at `lake_dir`, as `stedi
    sql` runs it."""
    lake = IcebergTables(spark, str(lake_dir), policy=policy)
    register_information_schema(lake, lake.register_existing())
    [statement] = statements(sql_file("validate_schema.sql"))
    return {
        r["table_name"]: (r["layout"], r["problems"], r["detail"])
        for r in lake.sql(statement).collect()
    }


def matching(policy: str) -> dict[str, tuple[str, int, str]]:
    """What validate_schema.sql reports for a lake of `policy` whose every table matches its
    declaration."""
    return {
        name: ("any" if t.udacity_columns is None else policy, 0, "") for name, t in TABLES.items()
    }


def alter_table(lake_dir: Path, name: str, change) -> None:
    """Alter table `name` of a (copied) lake as another Iceberg tool could: `change(update)` on its
    schema update (created, with one row, when the lake has no such table)."""
    from pyiceberg.exceptions import NoSuchTableError

    forget_catalogs()
    lake = IcebergLake(None, str(lake_dir))
    try:
        t = lake.catalog.load_table(lake.identifier(name))
    except NoSuchTableError:
        t = lake.ensure(name)
        t.append(
            pa.Table.from_pylist([{}], schema=iceberg_schema(lake.place(name).columns).as_arrow())
        )
    with t.update_schema() as update:
        change(update)
    forget_catalogs()


def test_validate_schema_declares_the_columns_and_types_of_tables_py():
    declared = re.findall(
        r"\('(\w+)', '(\w+)', '(\w+)', '(\w+)'\)", sql_file("validate_schema.sql")
    )
    expected = []
    for t in TABLES.values():
        layouts = (
            {"any": t.columns}
            if t.udacity_columns is None
            else {p: t.columns_for(p) for p in config.POLICIES}
        )
        for layout_name, columns in layouts.items():
            expected += [(t.name, layout_name, name, ATHENA_TYPES[typ]) for name, typ in columns]
    assert declared == expected


def test_validate_schema_reads_the_default_database():
    assert f"WHERE table_schema = '{config.DEFAULT_DATABASE}'" in sql_file("validate_schema.sql")


def test_validate_schema_names_a_changed_type_an_extra_column_and_each_missing_table(
    spark, tmp_path
):
    def changed(update):
        update.update_column("distanceFromObject", LongType())  # declared int
        update.add_column("note", StringType())  # not declared

    alter_table(tmp_path, "step_trainer_trusted", changed)
    found = schema_problems(spark, tmp_path)
    assert found["step_trainer_trusted"] == (
        "any",
        2,
        "column distanceFromObject is bigint, declared integer | undeclared column note varchar",
    )
    missing = {name: v for name, v in found.items() if name != "step_trainer_trusted"}
    assert set(missing) == set(TABLES) - {"step_trainer_trusted"}
    assert {problems for _, problems, _ in missing.values()} == {1}
    assert {detail for _, _, detail in missing.values()} == {"table not in the catalog"}


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["sql", "/nonexistent/q.sql"], "SQL file /nonexistent/q.sql does not exist"),
        (["sql", "-- only a comment"], "no SQL statement"),
        (["sql", "SELECT 1", "--limit", "0"], "--limit must be at least 1"),
        (
            ["sql", "SELECT 1", "--lake-dir", "s3://bucket/lake"],
            "stedi sql reads a local lake; for a lake in S3",
        ),
    ],
)
def test_sql_bad_arguments_exit_2_with_one_line_before_any_session(
    capsys, args, fragment, tmp_path
):
    argv = args if "--lake-dir" in args else [*args, "--lake-dir", str(tmp_path / "lake")]
    one_line_error(capsys, main(argv), fragment)
    assert not (tmp_path / "lake").exists()


def test_sql_file_that_is_not_utf8_is_one_line(capsys, tmp_path):
    query = tmp_path / "q.sql"
    query.write_bytes(b"SELECT '\xe9'")
    assert main(["sql", str(query), "--lake-dir", str(tmp_path / "lake")]) == 2
    assert capsys.readouterr().err == f"stedi: error: SQL file {query} is not UTF-8 text\n"


@pytest.mark.e2e
@pytest.mark.parametrize("policy", config.POLICIES)
def test_validate_schema_finds_every_table_of_a_clean_build_as_declared(
    clean_builds, spark, policy
):
    assert schema_problems(spark, clean_builds(policy)[0], policy) == matching(policy)


@pytest.mark.e2e
def test_validate_schema_reports_each_table_rewritten_with_another_schema(
    clean_builds, spark, tmp_path
):
    lake = copy_lake(clean_builds("strict")[0], tmp_path / "lake")
    alter_table(
        lake, "step_trainer_trusted", lambda u: u.update_column("distanceFromObject", LongType())
    )
    alter_table(lake, "customer_curated", lambda u: u.delete_column("phone"))
    IcebergLake(None, str(lake)).catalog.drop_table(
        (config.DEFAULT_DATABASE, "machine_learning_curated")
    )
    forget_catalogs()

    found = schema_problems(spark, lake)
    assert found.pop("step_trainer_trusted") == (
        "any",
        1,
        "column distanceFromObject is bigint, declared integer",
    )
    assert found.pop("customer_curated") == ("any", 1, "missing column phone varchar")
    assert found.pop("machine_learning_curated") == ("strict", 1, "table not in the catalog")
    expected = matching("strict")
    assert found == {name: expected[name] for name in found}


@pytest.mark.e2e
@pytest.mark.parametrize("policy", config.POLICIES)
def test_summary_queries_agree_with_the_tables_and_name_no_one(clean_builds, spark, policy):
    lake_dir, _, manifest, _ = clean_builds(policy)
    rows = {name: t["rows"] for name, t in manifest["tables"].items()}
    lake = IcebergTables(spark, str(lake_dir), policy=policy)
    lake.register_existing()
    per_device, consent, distance = [
        lake.sql(s).toPandas() for s in statements(sql_file("summary_queries.sql"))
    ]
    for result in (per_device, consent, distance):
        assert not set(result.columns) & set(DIRECT_IDENTIFIERS), result.columns

    # Readings per customer and device: every curated customer once; the readings add up to the
    # tables.
    assert len(per_device) == rows["customer_curated"] and per_device["serialNumber"].is_unique
    assert per_device["step_readings"].sum() == rows["step_trainer_trusted"]
    assert per_device["ml_rows"].sum() == rows["machine_learning_curated"]
    assert list(per_device["ml_rows"]) == sorted(per_device["ml_rows"], reverse=True)

    # Consent over time: the months of the curated customers' consent, counted in Python, and a
    # running total.
    consents = [
        r[0] for r in lake.read("customer_curated").select("shareWithResearchAsOfDate").collect()
    ]
    moments = [dt.datetime.fromtimestamp(ms / 1000, dt.UTC) for ms in consents]
    months = Counter((moment.year, moment.month) for moment in moments)
    got = {(r.consent_year, r.consent_month): r.customers for r in consent.itertuples()}
    assert got == dict(months)
    assert list(consent["customers_so_far"]) == list(consent["customers"].cumsum())
    assert consent["customers_so_far"].iloc[-1] == rows["customer_curated"]

    # Distance per device: the same figures from the DataFrame API.
    expected = {
        r["serialNumber"]: (r["n"], r["low"], r["high"], r["mean"])
        for r in lake.read("step_trainer_trusted")
        .groupBy("serialNumber")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.min("distanceFromObject").alias("low"),
            F.max("distanceFromObject").alias("high"),
            F.avg("distanceFromObject").alias("mean"),
        )
        .collect()
    }
    got = {
        r.serialNumber: (r.readings, r.min_distance, r.max_distance, float(r.mean_distance))
        for r in distance.itertuples()
    }
    assert {k: v[:3] for k, v in got.items()} == {k: v[:3] for k, v in expected.items()}
    # the engine's mean, rounded to 0.1
    assert all(abs(got[k][3] - expected[k][3]) <= 0.05 + 1e-9 for k in expected)
    assert (
        (distance["median_distance"] >= distance["min_distance"])
        & (distance["median_distance"] <= distance["max_distance"])
    ).all()


@pytest.mark.e2e
def test_stedi_sql_runs_both_files_on_a_build_with_the_default_engine(clean_builds):
    lake_dir, _, manifest, _ = clean_builds("strict")

    def stedi_sql(*args) -> str:
        done = subprocess.run(
            [*STEDI, "sql", *args, "--lake-dir", str(lake_dir)],
            check=False,
            capture_output=True,
            text=True,
            cwd=config.PROJECT_ROOT,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    out = stedi_sql("sql/validate_schema.sql")
    for name, (layout_name, _, _) in matching("strict").items():
        assert re.search(rf"^\s*{name}\s+{layout_name}\s+0\s*$", out, re.MULTILINE), out

    out = stedi_sql("sql/summary_queries.sql", "--limit", "5")
    customers = manifest["tables"]["customer_curated"]["rows"]
    assert out.count("(the first 5 rows; --limit N shows more)") == 2, (
        out
    )  # per device, and distance per device
    assert re.search(rf"\s{customers}\s+{customers}\s*$", out, re.MULTILINE), (
        out
    )  # the consent total
    assert not re.search(r"@|customerName|email|phone|birthDay", out), out


# --- stedi sql: what it cannot run is one line, exit 2 (issue 27, items 4 and 7)
# ---------------------


def tiny_lake(spark, root: Path, policy: str = "strict") -> Path:
    """A lake holding customer_landing (two real customers), written as a run writes it: its
    version's marker records the policy."""
    from intake_fixtures import canonical, real_records
    from stedi.core.schemas import spark_schema

    lake = IcebergTables(spark, str(root), policy=policy)
    rows = [canonical("customer", r) for r in real_records("customer", 2)]
    frame = spark.createDataFrame(rows, spark_schema(table("customer_landing").columns))
    lake.publish(lake.stage("customer_landing", frame, meta={"policy": policy}))
    return root


def tree(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_sql_on_a_path_holding_no_lake_is_one_line_before_any_session(tmp_path, capsys, where):
    lake = tmp_path / "typo"
    if where == "empty":
        lake.mkdir()
    assert main(["sql", "SELECT 1", "--lake-dir", str(lake)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err
        == f"stedi: error: {lake} holds no lake; check --lake-dir, or build one with stedi run\n"
    )
    assert tree(tmp_path) == ([lake] if where == "empty" else [])


def test_sql_policy_other_than_the_lakes_is_one_line_before_any_session(spark, tmp_path, capsys):
    lake = tiny_lake(spark, tmp_path / "lake", "strict")
    before = tree(lake)
    assert main(["sql", "SELECT 1", "--lake-dir", str(lake), "--policy", "udacity"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"stedi: error: the lake {lake} was built with policy strict, not udacity: "
        "drop --policy, or rebuild it with stedi run --policy udacity\n"
    )
    assert tree(lake) == before


def test_the_policy_sql_reads_with_is_the_one_the_lake_was_last_built_with(spark, tmp_path):
    from stedi.lake.recorded import policy_to_read

    udacity = tiny_lake(spark, tmp_path / "udacity", "udacity")
    assert policy_to_read(str(udacity), None) == "udacity"
    assert policy_to_read(str(udacity), "udacity") == "udacity"
    assert policy_to_read(str(tmp_path / "no-markers"), None) == config.DEFAULT_POLICY
    # A lake holds one policy's tables (a run with the other policy stops: stedi.lake.icelake);
    # asking for the other one is one line naming the policy the lake was built with.
    strict = tiny_lake(spark, tmp_path / "strict", "strict")
    assert policy_to_read(str(strict), None) == "strict"
    with pytest.raises(
        ValueError, match=f"^the lake {strict} was built with policy strict, not udacity: "
    ):
        policy_to_read(str(strict), "udacity")


def test_every_sql_option_says_what_it_is():
    import argparse

    from stedi import cli

    [commands] = [a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name, parser in commands.choices.items():
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                assert action.help, f"stedi {name} {action.dest} has no help text"


@pytest.mark.slow
@pytest.mark.parametrize("engine", config.ENGINES)
def test_sql_the_engine_refuses_is_one_line_with_its_message_exit_2(spark, tmp_path, capfd, engine):
    """A typo, an unknown column, a statement that fails while running: the engine's own message,
    first line only, no traceback and no log lines; a file's earlier statements still print.

    Each case is a `stedi sql` process of its own, except two on Spark, where each process starts
    a JVM (9 s): there only the statement that fails while running (a failed task, what the JVM
    would log) is a process; the typo and the file run in this process (stedi.cli.main on this
    session's JVM, which gives the same messages; the output captured at the file descriptors,
    the JVM's included)."""
    lake = tiny_lake(spark, tmp_path / "lake")
    before = tree(lake)
    queries = tmp_path / "q.sql"
    queries.write_text(
        "SELECT COUNT(*) AS n FROM customer_landing;\nSELECT nosuch FROM customer_landing;\n"
    )
    expected = {
        "spark": {
            "SELEC 1": "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'.(line 1, pos 0)",
            str(
                queries
            ): "statement 2 of 2: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function "
            "parameter "
            "with name `nosuch` cannot be resolved.",
            "SELECT raise_error('boom')": "java.lang.RuntimeException: boom",
        },
        "sail": {
            "SELEC 1": "found SELEC at 0:5 expected something else",
            str(
                queries
            ): 'statement 2 of 2: attribute ObjectName([Identifier("nosuch")]) is missing from the '
            "schema: cannot resolve attribute",
            "SELECT raise_error('boom')": "boom",
        },
    }[engine]
    in_process = {"SELEC 1", str(queries)} if engine == "spark" else set()
    for query, message in expected.items():
        argv = ["sql", query, "--lake-dir", str(lake), "--engine", engine]
        if query in in_process:
            capfd.readouterr()
            with _log_levels_kept(spark):  # stedi sql turns the JVM's logging off
                code = main(argv)
            stdout, stderr = capfd.readouterr()
        else:
            done = subprocess.run(
                [*STEDI, *argv],
                check=False,
                capture_output=True,
                text=True,
                cwd=config.PROJECT_ROOT,
            )
            code, stdout, stderr = done.returncode, done.stdout, done.stderr
        assert code == 2, stderr
        assert stderr.startswith("stedi: error: ") and stderr.count("\n") == 1, stderr
        assert message in stderr, stderr
        assert stdout.split() == (["n", "2"] if query == str(queries) else []), stdout
    assert tree(lake) == before


@contextlib.contextmanager
def _log_levels_kept(spark):
    """The test session's log4j levels as they were before the block (for the tests after it):
    every logger at the root's level, as stedi/engine/spark_conf/log4j2.properties sets them."""
    log4j = spark._jvm.org.apache.logging.log4j
    root = log4j.LogManager.getRootLogger().getLevel()
    try:
        yield
    finally:
        log4j.core.config.Configurator.setAllLevels("", root)
