"""Open every pipeline notebook in JupyterLab, in a real browser, and run each one top to bottom.

    python scripts/lab_check.py [--engine ENGINE] [--timeout SECONDS] [--screenshots DIR]
    (or `make lab-check`, which installs Debian's chromium and playwright first)

What a user does after `make lab`, done by a browser: `jupyter lab` starts (its own browser
off, a random token, a free port) on a scratch copy of the project, STEDI_HOME pointing at it
(glue_sessions/ and notebooks/ copied, data/raw a link to this clone's exports), so the
notebooks' default parameters (data/raw -> data/lake) build a lake there and nothing in this
clone changes. Chromium, driven by playwright, opens each notebook in the pipeline's order
(stedi.run.pipeline), clicks Run > Run All Cells, waits until every code cell has an
execution count, then adds a cell with `%status` to see which engine the kernel ran on. A cell with
an error or any stderr output, an engine other than the one asked for (default: the project's), or a
cell still waiting at the timeout fails the check. Then the lake's tables, as the notebooks wrote
them, are listed with their row counts.

Exit 0 when every notebook ran clean, 1 otherwise, 2 when chromium or playwright is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("STEDI_CHROMIUM", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_project(base: Path) -> Path:
    """A project folder for the lab: the notebooks copied, the raw exports linked, no lake yet."""
    home = base / "project"
    for folder in ("glue_sessions", "notebooks"):
        shutil.copytree(ROOT / folder, home / folder)
    (home / "data").mkdir(parents=True)
    (home / "data" / "raw").symlink_to(ROOT / "data" / "raw")
    return home


def start_lab(home: Path, port: int, token: str, engine: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, STEDI_HOME=str(home), JUPYTER_TOKEN=token)
    if engine:
        env["STEDI_ENGINE"] = engine
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [
        str(jupyter),
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--notebook-dir={home}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:  # CI machines and containers run as root; Jupyter refuses it unless told
        command.append("--allow-root")
    process = subprocess.Popen(
        command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"lab-check: jupyter lab exited at start; see {log}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2
            ):
                return process
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"lab-check: jupyter lab did not answer within 60 s; see {log}")


# The notebook on screen (other tabs stay in the page, hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# The prompts of its code cells: "[ ]:" not run, "[*]:" running or queued, "[3]:" done.
PROMPTS = (
    f"() => Array.from(document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt'))"
    ".map(p => p.textContent.trim())"
)
# Outputs that mean a cell failed: tracebacks and anything on stderr (the notebooks write none).
FAILURES = (
    f"() => Array.from(document.querySelectorAll('{PANEL} "
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]\'))'
    ".map(o => o.textContent.slice(0, 400))"
)
IDLE = (
    f"() => {{ const s = document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator');"
    " return s !== null && s.getAttribute('data-status') === 'idle'; }"
)
KERNEL = f"() => (document.querySelector('{PANEL} .jp-KernelName') || {{}}).textContent || ''"
PENDING = ("[ ]:", "[*]:", "")


def ask_engine(page) -> str:
    """What a user would type to see the engine: a new cell at the end with `%status`, run."""
    page.locator(f"{PANEL} .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # a new code cell below, in edit mode
    page.keyboard.press("Enter")
    page.keyboard.type("%status")
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        f"() => Array.from(document.querySelectorAll('{PANEL} .jp-OutputArea-output'))"
        ".some(o => o.textContent.includes('Local Glue session stand-in'))",
        timeout=30_000,
    )
    text = page.evaluate(
        f"() => Array.from(document.querySelectorAll('{PANEL} .jp-OutputArea-output'))"
        ".map(o => o.textContent).filter(t => t.includes('Local Glue session stand-in')).pop()"
    )
    return text.split(", engine ", 1)[-1].split(" ", 1)[0] if ", engine " in text else text[:80]


def run_notebook(
    page,
    base_url: str,
    token: str,
    n: int,
    path: str,
    kernel_name: str,
    timeout: float,
    screenshots: Path | None,
) -> dict:
    started = time.monotonic()
    # A workspace of its own, reset: only this notebook is open in the page.
    page.goto(f"{base_url}/lab/workspaces/check-{n}/tree/{path}?reset&token={token}")
    page.wait_for_selector(f"{PANEL} .jp-CodeCell", timeout=60_000)
    page.wait_for_function(IDLE, timeout=120_000)  # the kernel has started
    # the toolbar names the notebook's kernel (from its metadata) once it is connected
    with contextlib.suppress(Exception):
        page.wait_for_function(
            f"() => ({KERNEL})().includes({json.dumps(kernel_name)})", timeout=60_000
        )
    kernel = page.evaluate(KERNEL).strip()
    page.locator(
        f"{PANEL} .jp-Notebook"
    ).first.click()  # the notebook has the focus: the menu acts on it
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    deadline = time.monotonic() + timeout
    prompts: list[str] = []
    failures: list[str] = []
    while time.monotonic() < deadline:
        time.sleep(1)
        prompts, failures = page.evaluate(PROMPTS), page.evaluate(FAILURES)
        if failures or (prompts and all(p not in PENDING for p in prompts)):
            break
    done = sum(p not in PENDING for p in prompts)
    engine = ""
    if done and done == len(prompts) and not failures:
        engine = ask_engine(page)
    if screenshots is not None:
        page.screenshot(path=str(screenshots / (Path(path).stem + ".png")))
    # Shut its kernel down before the next notebook: one local engine at a time.
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name="Shut Down Kernel", exact=True).click()
    page.wait_for_timeout(1000)
    return {
        "notebook": path,
        "kernel": kernel,
        "cells": len(prompts),
        "executed": done,
        "failures": failures,
        "engine": engine,
        "seconds": round(time.monotonic() - started, 1),
        "ok": bool(not failures and prompts and done == len(prompts)),
    }


def lake_rows(home: Path) -> dict[str, int]:
    """Rows of each published table, from its current Iceberg snapshot's summary (no engine)."""
    from stedi.core.tables import TABLES
    from stedi.lake.icelake import table_rows

    lake = str(home / "data" / "lake")
    found = {name: table_rows(lake, name) for name in TABLES}
    return {name: rows for name, rows in found.items() if rows is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engine",
        default="",
        help="the kernel's engine (STEDI_ENGINE); default: the project's default",
    )
    parser.add_argument(
        "--timeout", type=float, default=180, help="seconds each notebook may take (default 180)"
    )
    parser.add_argument(
        "--screenshots", type=Path, help="save a screenshot of each notebook after its run here"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch project (its lake and the lab's log)"
    )
    args = parser.parse_args(argv)

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print(
            "lab-check: playwright is not installed (make lab-check installs it)", file=sys.stderr
        )
        return 2
    if not Path(CHROMIUM).exists():
        print(
            f"lab-check: no chromium at {CHROMIUM} (make lab-check installs Debian's; or set "
            "STEDI_CHROMIUM)",
            file=sys.stderr,
        )
        return 2
    from stedi import config
    from stedi.engine.kernel import DISPLAY_NAME
    from stedi.run.pipeline import PIPELINE

    expected = args.engine or os.environ.get(config.ENGINE_ENV) or config.DEFAULT_ENGINE

    base = Path(tempfile.mkdtemp(prefix="stedi-lab-check-"))
    home = scratch_project(base)
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    lab = start_lab(home, port, token, args.engine, base / "jupyter-lab.log")
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for n, step in enumerate(PIPELINE):
                path = Path(step.notebook).resolve().relative_to(ROOT).as_posix()
                result = run_notebook(
                    page,
                    f"http://127.0.0.1:{port}",
                    token,
                    n,
                    path,
                    DISPLAY_NAME,
                    args.timeout,
                    args.screenshots,
                )
                if result["ok"] and result["kernel"] != DISPLAY_NAME:
                    result["ok"] = False
                    result["failures"].append(
                        f"the notebook ran on the kernel {result['kernel']!r}, not {DISPLAY_NAME!r}"
                    )
                if result["ok"] and result["engine"] != expected:
                    result["ok"] = False
                    result["failures"].append(
                        f"the kernel ran on {result['engine']!r}, not on {expected!r}"
                    )
                results.append(result)
                status = "ran clean" if result["ok"] else "FAILED"
                print(
                    f"  {path}: {status}, {result['executed']}/{result['cells']} cells, "
                    f"kernel {result['kernel']!r}, engine {result['engine'] or '?'}, "
                    f"{result['seconds']} s",
                    flush=True,
                )
                for failure in result["failures"]:
                    print("    " + failure.replace("\n", "\n    "))
                if not result["ok"]:
                    break  # the next notebooks read what this one did not write
            browser.close()
    finally:
        os.killpg(lab.pid, 15)
        lab.wait(timeout=30)
    rows = lake_rows(home)
    print(
        "  lake tables written from JupyterLab: " + ", ".join(f"{t} {n:,}" for t, n in rows.items())
    )
    ok = all(r["ok"] for r in results)
    if args.keep:
        print(f"  scratch project kept: {home} (lab log: {base / 'jupyter-lab.log'})")
    else:
        shutil.rmtree(base, ignore_errors=True)
    print(
        "lab-check: "
        + (
            "every notebook ran top to bottom in JupyterLab"
            if ok
            else "a notebook failed in JupyterLab"
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
