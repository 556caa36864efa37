"""scripts/lab_check.py (`make lab-check`) without the browser: the parts CI can run.

The check itself (JupyterLab in chromium, every notebook run top to bottom) needs chromium,
installed by `make lab-check` as root; it was run by hand (docs/running.md, "The notebooks"). Here:
the scratch project it builds leaves this clone alone, the lake's row counts are read from the
tables' current snapshots only, and a missing browser is one line and exit 2.
"""

from __future__ import annotations

import importlib.util

from stedi import config
from stedi.lake.catalogs import forget_catalogs

SCRIPT = config.PROJECT_ROOT / "scripts" / "lab_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("lab_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scratch_project_copies_the_notebooks_and_links_the_raw_exports(tmp_path):
    lab_check = _load()
    home = lab_check.scratch_project(tmp_path)
    assert sorted(p.name for p in (home / "glue_sessions").glob("*.ipynb")) == sorted(
        p.name for p in config.GLUE_SESSIONS_DIR.glob("*.ipynb")
    )
    assert (home / "notebooks" / "balance_analysis.ipynb").is_file()
    raw = home / "data" / "raw"
    assert raw.is_symlink() and raw.resolve() == config.RAW_DIR.resolve()
    assert not (home / "data" / "lake").exists()


def test_lake_rows_reads_only_committed_snapshots(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stedi.lake.iceberg import IcebergLake
    from stedi.lake.iceschema import iceberg_schema

    lab_check = _load()
    lake = IcebergLake(None, str(tmp_path / "data" / "lake"))
    table = lake.ensure("customer_trusted")
    schema = iceberg_schema(lake.place("customer_trusted").columns).as_arrow()
    table.append(pa.Table.from_pylist([{}] * 482, schema=schema))  # committed: 482 rows
    stray = (
        tmp_path
        / "data"
        / "lake"
        / "trusted"
        / "customer_trusted"
        / "data"
        / "stage-x"
        / "part.parquet"
    )
    stray.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{}] * 7, schema=schema), stray)  # staged, never committed
    lake.ensure("customer_curated")  # a table without a snapshot has no rows to show
    forget_catalogs()
    assert lab_check.lake_rows(tmp_path) == {"customer_trusted": 482}


def test_a_missing_browser_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    lab_check = _load()
    monkeypatch.setattr(lab_check, "CHROMIUM", str(tmp_path / "no-chromium"))
    try:
        import playwright  # noqa: F401
    except ImportError:
        expected = "playwright is not installed"
    else:
        expected = "no chromium at"
    assert lab_check.main([]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
