"""The run's pages: index.html (steps, counts, quarantine, quality, figures) and the notebook
exports."""

from __future__ import annotations

import base64
import json
import os
import re

import nbformat
import pytest

from stedi.run import report
from stedi.run.folder import RunFolder

# A 1x1 PNG: figures without drawing anything.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
STEPS = ("00_raw_to_landing", "01_customer_landing_to_trusted", "balance_analysis")


def manifest(status="succeeded", **overrides):
    m = {
        "run_id": "20240101T000000Z-strict-abcd",
        "status": status,
        "policy": "strict",
        "target": "local",
        "lake_dir": "/tmp/lake",
        "seconds": 75.25,
        "tables": {
            "customer_landing": {
                "zone": "landing",
                "rows": 956,
                "snapshot_id": 4242424242,
                "path": "/tmp/lake/landing/customer_landing",
            },
            "accelerometer_landing": {"zone": "landing", "rows": 81273, "path": "/x"},
            "machine_learning_curated": {"zone": "curated", "rows": 1234567, "path": "/y"},
        },
        "intake": {
            "accelerometer_landing": {
                "source": "accelerometer",
                "read": 81280,
                "landed": 81273,
                "quarantined": 5,
                "duplicates_dropped": 2,
                "quarantine_reasons": {"truncated": 3, "not_json": 2},
                "balanced": True,
            }
        },
        "quality": {
            "customer_landing": [
                {
                    "rule": "email_complete",
                    "severity": "error",
                    "rows_checked": 956,
                    "rows_failing": 0,
                    "outcome": "passed",
                },
                {
                    "rule": "phone_unique",
                    "severity": "warn",
                    "rows_checked": 956,
                    "rows_failing": 9560,
                    "outcome": "warned",
                    "detail": "most repeated <phone>",
                },
            ]
        },
        "steps": [
            {
                "name": name,
                "notebook": f"{name}.ipynb",
                "status": "succeeded",
                "seconds": 1.5 + i,
                "html": f"{name}.html",
            }
            for i, name in enumerate(STEPS)
        ],
    }
    m.update(overrides)
    return m


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "runs" / "20240101T000000Z-strict-abcd"
    (folder / "figures").mkdir(parents=True)
    for name in ("funnel", "signal", "zz_extra"):
        (folder / "figures" / f"{name}.png").write_bytes(
            PNG + name.encode()
        )  # distinct bytes per figure
    (folder / "figures" / "captions.json").write_text(
        json.dumps(
            {
                "funnel": {
                    "title": "Consent funnel",
                    "caption": "Consent keeps 482 of 956 customers.",
                }
            }
        )
    )
    return folder


def test_index_links_every_step_report_and_shows_durations(run_dir):
    for name in STEPS:
        (run_dir / f"{name}.code.html").write_text("code")
    page = report.write_index(run_dir, manifest()).read_text()
    for name in STEPS:
        assert f'href="{name}.html"' in page
        assert f'href="{name}.code.html"' in page
        assert f'href="{name}.ipynb"' in page
    assert "1.5 s" in page and "3.5 s" in page
    assert 'class="badge ok">succeeded<' in page
    assert "policy <b>strict</b>" in page


def test_index_embeds_every_figure_and_links_its_png(run_dir):
    page = report.write_index(run_dir, manifest()).read_text()
    for name in ("funnel", "signal", "zz_extra"):
        data = base64.b64encode((run_dir / "figures" / f"{name}.png").read_bytes()).decode()
        assert f"data:image/png;base64,{data}" in page
        assert f'href="figures/{name}.png"' in page
    assert page.count("<img ") == 3
    assert (
        "Consent keeps 482 of 956 customers." in page
    )  # the computed caption travels with its figure
    # the funnel sits with the row counts, before the analysis section; the others in the analysis's
    # order
    assert (
        page.index('id="fig-funnel"')
        < page.index("id='analysis'")
        < page.index('id="fig-signal"')
        < page.index('id="fig-zz_extra"')
    )
    assert 'src="figures/' not in page  # nothing depends on the PNG files being next to the page


def test_figures_come_in_the_order_the_analysis_saved_them_then_by_name(run_dir):
    (run_dir / "figures" / "alignment.png").write_bytes(PNG + b"alignment")
    folder = RunFolder(run_dir)
    folder.write_caption("signal", "Signal", "")
    folder.write_caption("zz_extra", "Extra", "")
    folder.write_caption("not_drawn", "A caption without its PNG", "")
    page = report.write_index(run_dir, manifest()).read_text()
    positions = [page.index(f'id="fig-{name}"') for name in ("signal", "zz_extra", "alignment")]
    assert positions == sorted(positions)
    assert "fig-not_drawn" not in page and page.count("<img ") == 4


def test_index_shows_the_manifest_counts_formatted_and_right_aligned(run_dir):
    page = report.write_index(run_dir, manifest()).read_text()
    for formatted in ("956", "81,273", "1,234,567", "81,280", "9,560"):
        assert (
            f"<td class='num'>{formatted}</td>" in page
            or f"<td class='num hot'>{formatted}</td>" in page
        )
    assert "81273" not in page.replace("rows=81273", "")
    assert "<td class='snapshot'><code>4242424242</code></td>" in page  # each table's snapshot id
    assert (
        page.count("<td class='snapshot'><code>—</code></td>") == 2
    )  # none recorded for the others
    assert "<td class='num hot'>5</td>" in page  # quarantined rows stand out
    assert "truncated: 3, not_json: 2" in page
    assert "phone_unique" in page and 'class="badge warn">warned<' in page
    assert "most repeated &lt;phone&gt;" in page  # manifest text is escaped
    assert "Rules that passed (1)" in page


def test_index_of_a_failed_run_shows_the_status_and_the_failing_steps_error(run_dir):
    failed = manifest(status="failed")
    failed["steps"][1].update(
        status="failed", error='cell [3] ("x = 1/0"): ZeroDivisionError: division by zero'
    )
    failed["steps"] = failed["steps"][:2]
    page = report.write_index(run_dir, failed).read_text()
    assert 'class="badge bad">failed<' in page
    assert "<title>STEDI run 20240101T000000Z-strict-abcd · failed</title>" in page
    assert "Step 01_customer_landing_to_trusted failed." in page
    assert "ZeroDivisionError: division by zero" in page
    assert "cell [3] (&#34;x = 1/0&#34;)" in page  # escaped
    assert re.search(r"<tr class='failed'>.*01_customer_landing_to_trusted", page)


def test_index_without_figures_quality_or_intake_says_so(tmp_path):
    page = report.write_index(tmp_path, manifest(quality={}, intake={})).read_text()
    assert "No data-quality results recorded." in page
    assert "No intake accounting recorded." in page
    assert "<img " not in page and "id='analysis'" not in page


def _notebook(path, code="print('the answer')", output="the answer\n"):
    cell = nbformat.v4.new_code_cell(code, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A step"), cell])
    nbformat.write(nb, path)


def test_export_reports_writes_a_reader_and_an_engineer_page_per_notebook(tmp_path):
    _notebook(
        tmp_path / "00_raw_to_landing.ipynb", code="secret_code_marker = 42\nprint('the answer')"
    )
    exported = report.export_reports(tmp_path, ["00_raw_to_landing", "01_not_executed"])
    assert exported == {
        "00_raw_to_landing": {
            "html": "00_raw_to_landing.html",
            "code_html": "00_raw_to_landing.code.html",
        }
    }
    reader = (tmp_path / "00_raw_to_landing.html").read_text()
    engineer = (tmp_path / "00_raw_to_landing.code.html").read_text()
    assert "the answer" in reader and "the answer" in engineer
    assert "secret_code_marker" not in reader
    assert "secret_code_marker" in engineer
    assert not (tmp_path / "01_not_executed.html").exists()


def test_export_reports_defaults_to_every_notebook_of_the_run(tmp_path):
    for name in ("a", "b"):
        _notebook(tmp_path / f"{name}.ipynb")
    assert sorted(report.export_reports(tmp_path)) == ["a", "b"]


def test_latest_run_follows_the_latest_link_then_the_newest_manifest(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(FileNotFoundError, match="no run folder"):
        RunFolder.latest(runs)
    old, new = runs / "20240101T000000Z-strict-aaaa", runs / "20240102T000000Z-strict-bbbb"
    for i, folder in enumerate((old, new)):
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text("{}")
        os.utime(folder / "manifest.json", (1_700_000_000 + i, 1_700_000_000 + i))
    assert RunFolder.latest(runs).path == new
    (runs / "latest").symlink_to(old.name, target_is_directory=True)
    assert RunFolder.latest(runs).path == old.resolve()


def test_refresh_re_exports_the_latest_run(tmp_path):
    runs = tmp_path / "runs"
    folder = runs / "r1"
    folder.mkdir(parents=True)
    m = manifest(
        steps=[
            {
                "name": "00_raw_to_landing",
                "notebook": "00_raw_to_landing.ipynb",
                "status": "succeeded",
                "seconds": 2.0,
            }
        ]
    )
    (folder / "manifest.json").write_text(json.dumps(m))
    _notebook(folder / "00_raw_to_landing.ipynb")
    index = report.refresh(RunFolder.find(runs))
    assert index == folder / "index.html"
    assert (folder / "00_raw_to_landing.html").exists() and (
        folder / "00_raw_to_landing.code.html"
    ).exists()
    assert 'href="00_raw_to_landing.code.html"' in index.read_text()
    with pytest.raises(FileNotFoundError):
        report.refresh(RunFolder.find(runs, "no-such-run"))


def test_index_of_a_run_with_nothing_new_shows_the_lake_and_the_runs_that_built_it(run_dir):
    built = "20231231T000000Z-strict-0000"
    (run_dir.parent / built).mkdir()
    (run_dir.parent / built / "00_raw_to_landing.html").write_text("report")
    m = manifest()
    for t in m["tables"].values():
        t["run"] = built
    m["tables"]["machine_learning_curated"]["run"] = None  # a lake from before runs were recorded
    m["steps"] = [
        {
            "name": name,
            "notebook": "",
            "status": "succeeded",
            "skipped": "up to date",
            "seconds": 0.0,
            "run": built,
        }
        for name in STEPS
    ]
    page = report.write_index(run_dir, m).read_text()
    assert "Nothing new:" in page and "This page shows the lake as it is" in page
    assert page.count('class="badge ok">up to date<') == 3 and "0.0 s" not in page
    assert (
        f'href="../{built}/00_raw_to_landing.html"' in page
    )  # the report of the run that last ran it
    assert page.count(f"<td class='built'>run {built}</td>") == 2
    assert "<td class='built'>—</td>" in page
    assert (
        "No intake accounting recorded." not in page
        and "No data-quality results recorded." not in page
    )
    assert "81,280" in page and "phone_unique" in page


def test_index_of_an_interrupted_run_says_where_and_how_to_resume(run_dir):
    m = manifest(status="interrupted")
    m["steps"][1].update(
        status="interrupted",
        error='interrupted (SIGINT) in cell [4] ("report = step.publish(...)")',
    )
    m["steps"] = m["steps"][:2]
    m["tables"]["customer_landing"]["run"] = m["run_id"]
    page = report.write_index(run_dir, m).read_text()
    assert "<title>STEDI run 20240101T000000Z-strict-abcd · interrupted</title>" in page
    assert "The run was interrupted in step 01_customer_landing_to_trusted." in page
    assert "<code>stedi run --resume</code> continues it." in page
    assert "interrupted (SIGINT) in cell [4]" in page
    assert "<td class='built'>this run</td>" in page


@pytest.mark.e2e
def test_a_run_with_nothing_new_reports_the_lake_as_it_is(tmp_path, clean_builds):
    # A copy of the clean strict build and of its run folder (made the copy's: its lake_dir): a
    # plain `stedi run` skips every step.
    import shutil

    from lakes import copy_lake, stedi_run
    from stedi.run.freshness import PER_RUN_KEYS

    source_lake, built_dir, built, _ = clean_builds("strict")
    lake, runs = copy_lake(source_lake, tmp_path / "lake"), tmp_path / "runs"
    shutil.copytree(built_dir, runs / built["run_id"])
    RunFolder(runs / built["run_id"]).write_manifest({**built, "lake_dir": str(lake)})
    done = stedi_run(lake, runs)
    assert "nothing new" in done.stdout and done.stdout.count("up to date, skipped") == 7
    assert (
        f"  customer_curated          curated   {built['tables']['customer_curated']['rows']:>10,} "
        f" built by run {built['run_id']}" in done.stdout
    )
    assert (
        "  quarantine: no record held out of the landing tables\n" in done.stdout
    )  # the real exports: none
    folder = RunFolder.latest(runs)
    assert folder.run_id != built["run_id"]
    manifest = folder.read_manifest()
    assert manifest["status"] == "succeeded"
    assert {s["name"]: s.get("run") for s in manifest["steps"]} == {
        s["name"]: built["run_id"] for s in built["steps"]
    }
    assert {n: (t["rows"], t["run"]) for n, t in manifest["tables"].items()} == {
        n: (t["rows"], built["run_id"]) for n, t in built["tables"].items()
    }
    # The intake accounting and quality results of the tables in force, as the building run recorded
    # them.
    assert manifest["quality"] == built["quality"]
    assert manifest["intake"] == {
        name: {k: v for k, v in acc.items() if k not in PER_RUN_KEYS}
        | {"quarantine_path": acc["quarantine_path"].replace(str(source_lake), str(lake))}
        for name, acc in built["intake"].items()
    }
    page = (folder.path / "index.html").read_text()
    assert "Nothing new:" in page and "No intake accounting recorded." not in page
    assert "No data-quality results recorded." not in page and "No table was written." not in page
    assert f'href="../{built["run_id"]}/05_machine_learning_curated.html"' in page
    assert f'href="../{built["run_id"]}/balance_analysis.html"' in page
