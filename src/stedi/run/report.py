"""A run folder as pages to look at: `index.html` and HTML exports of every executed notebook.

- `export_reports(run_dir, step_names)` writes, for each executed notebook
  `<run_dir>/<name>.ipynb`, `<name>.html` (outputs only, for readers) and
  `<name>.code.html` (with the code, for engineers).
- `write_index(run_dir, manifest)` writes `<run_dir>/index.html`: status, policy,
  the steps with their durations and reports, the row counts with the consent
  funnel, the intake accounting (quarantine), the data-quality results and the
  balance analysis figures. Figures are embedded (base64), so the page works
  wherever it is copied; each also links its PNG file.
- `latest_run(runs_dir)` and `refresh(runs_dir)` re-export the newest run
  (`stedi report`).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from pathlib import Path

from stedi import config

FIGURES_DIR = "figures"  # <run_dir>/figures/<name>.png, written by the balance analysis
CAPTIONS_FILE = "captions.json"  # <run_dir>/figures/captions.json: name -> {title, caption}
# The analysis's figures in reading order (any other PNG follows, by name).
FIGURES = (
    "funnel",
    "readings_per_subject",
    "sampling_intervals",
    "distance",
    "distance_series",
    "accelerometer",
    "alignment",
    "signal",
    "findings",
)
READER_SUFFIX = ".html"
CODE_SUFFIX = ".code.html"
# The figure shown beside the row counts; the others make the analysis section.
FUNNEL_FIGURE = "funnel"


# -- notebook exports ------------------------------------------------------------
def export_notebook(notebook_path: Path, html_path: Path, with_code: bool) -> Path:
    """`notebook_path` as a standalone HTML page, with or without its code cells' input."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=not with_code, exclude_input_prompt=not with_code, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    html_path.write_text(body, encoding="utf-8")
    return html_path


def export_reports(run_dir: str | Path, step_names: list[str] | tuple[str, ...] | None = None) -> dict[str, dict[str, str]]:
    """HTML exports of the executed notebooks of `step_names` (default: every notebook in the run folder).

    Returns step name -> {"html": "<name>.html", "code_html": "<name>.code.html"} (file names in
    the run folder) for each step whose executed notebook exists; the others are skipped.
    """
    run_dir = Path(run_dir)
    if step_names is None:
        step_names = sorted(p.stem for p in run_dir.glob("*.ipynb"))
    exported: dict[str, dict[str, str]] = {}
    for name in step_names:
        notebook = run_dir / f"{name}.ipynb"
        if not notebook.is_file():
            continue
        reader = export_notebook(notebook, run_dir / f"{name}{READER_SUFFIX}", with_code=False)
        code = export_notebook(notebook, run_dir / f"{name}{CODE_SUFFIX}", with_code=True)
        exported[name] = {"html": reader.name, "code_html": code.name}
    return exported


# -- finding runs ----------------------------------------------------------------
def latest_run(runs_dir: str | Path = config.RUNS_DIR) -> Path:
    """The newest run folder: where `runs/latest` points, else the folder with the newest manifest.json."""
    runs = Path(config.resolve(runs_dir))
    latest = runs / "latest"
    if latest.is_dir() and (latest / "manifest.json").is_file():
        return latest.resolve()
    candidates = [p.parent for p in runs.glob("*/manifest.json") if p.parent.name != "latest"]
    if not candidates:
        raise FileNotFoundError(f"no run folder with a manifest.json in {runs}; run `stedi run` first")
    return max(candidates, key=lambda d: ((d / "manifest.json").stat().st_mtime, d.name))


def refresh(runs_dir: str | Path = config.RUNS_DIR, run_id: str = "") -> Path:
    """Re-export the notebooks of a run (default: the latest) and rewrite its index; returns index.html."""
    run_dir = Path(config.resolve(runs_dir)) / run_id if run_id else latest_run(runs_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{run_dir} has no manifest.json")
    manifest = json.loads(manifest_path.read_text())
    names = [s["name"] for s in manifest.get("steps", [])] or None
    export_reports(run_dir, names)
    return write_index(run_dir, manifest)


# -- the index page --------------------------------------------------------------
def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _n(value) -> str:
    """A count right-aligned by the caller: thousands separators, an em dash when unknown."""
    if value is None or value == "":
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return _e(value)


def _clip(text, limit: int = 180) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _badge(status: str) -> str:
    kind = {"succeeded": "ok", "passed": "ok", "failed": "bad", "warned": "warn", "quarantined": "info"}.get(status, "warn")
    return f'<span class="badge {kind}">{_e(status)}</span>'


def _figures(run_dir: Path) -> list[tuple[str, Path]]:
    """(name, path) of the run's PNG figures: the analysis's order first, then any others by name."""
    folder = run_dir / FIGURES_DIR
    if not folder.is_dir():
        return []
    found = {p.stem: p for p in folder.glob("*.png")}
    order = [n for n in FIGURES if n in found] + sorted(n for n in found if n not in FIGURES)
    return [(n, found[n]) for n in order]


def _captions(run_dir: Path) -> dict:
    path = run_dir / FIGURES_DIR / CAPTIONS_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _figure(name: str, path: Path, run_dir: Path, captions: dict) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    meta = captions.get(name, {})
    title = meta.get("title") or name.replace("_", " ")
    caption = meta.get("caption", "")
    link = path.relative_to(run_dir).as_posix()
    return (
        f'<figure id="fig-{_e(name)}"><figcaption><h3>{_e(title)}</h3>'
        f'{f"<p>{_e(caption)}</p>" if caption else ""}</figcaption>'
        f'<img alt="{_e(title)}" src="data:image/png;base64,{data}">'
        f'<p class="small"><a href="{_e(link)}">{_e(link)}</a></p></figure>'
    )


def _step_link(run_dir: Path, step: dict, key: str, suffix: str, label: str) -> str:
    target = step.get(key) or f"{step['name']}{suffix}"
    if step.get(key) or (run_dir / target).is_file():
        return f'<a href="{_e(target)}">{label}</a>'
    return ""


def _steps(run_dir: Path, manifest: dict) -> str:
    steps = manifest.get("steps") or []
    if not steps:
        return "<p>No step ran.</p>"
    longest = max((s.get("seconds") or 0) for s in steps) or 1
    rows = []
    for number, s in enumerate(steps, 1):
        seconds = s.get("seconds") or 0
        links = " · ".join(
            link
            for link in (
                _step_link(run_dir, s, "html", READER_SUFFIX, "report"),
                _step_link(run_dir, s, "code_html", CODE_SUFFIX, "with code"),
                _step_link(run_dir, s, "notebook", ".ipynb", "notebook"),
            )
            if link
        )
        error = f'<div class="error">{_e(s["error"])}</div>' if s.get("error") else ""
        rows.append(
            f"<tr class='{'failed' if s.get('status') == 'failed' else ''}'><td class='num'>{number}</td>"
            f"<td><b>{_e(s['name'])}</b>{error}</td><td>{_badge(s.get('status', ''))}</td>"
            f"<td class='num'>{seconds:,.1f} s</td>"
            f"<td class='bar'><span style='width:{100 * seconds / longest:.0f}%'></span></td>"
            f"<td>{links}</td></tr>"
        )
    return (
        "<table><thead><tr><th class='num'>#</th><th>step</th><th>status</th><th class='num'>duration</th>"
        f"<th></th><th>reports</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _tables(manifest: dict) -> str:
    tables = manifest.get("tables") or {}
    if not tables:
        return "<p>No table was written.</p>"
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td><span class='zone {_e(t.get('zone'))}'>{_e(t.get('zone'))}</span></td>"
        f"<td class='num'>{_n(t.get('rows'))}</td></tr>"
        for name, t in tables.items()
    )
    return f"<table><thead><tr><th>table</th><th>zone</th><th class='num'>rows</th></tr></thead><tbody>{rows}</tbody></table>"


def _intake(manifest: dict) -> str:
    intake = manifest.get("intake") or {}
    if not intake:
        return "<p>No intake accounting recorded.</p>"
    rows = []
    for name, acc in intake.items():
        reasons = acc.get("quarantine_reasons") or {}
        reason_text = ", ".join(f"{_e(r)}: {_n(n)}" for r, n in reasons.items()) or "—"
        balanced = acc.get("balanced")
        check = "" if balanced is None else (_badge("passed") if balanced else _badge("failed"))
        rows.append(
            f"<tr><td>{_e(name)}</td><td class='num'>{_n(acc.get('read'))}</td><td class='num'>{_n(acc.get('landed'))}</td>"
            f"<td class='num{' hot' if acc.get('quarantined') else ''}'>{_n(acc.get('quarantined'))}</td>"
            f"<td class='num'>{_n(acc.get('duplicates_dropped'))}</td><td>{reason_text}</td><td>{check}</td></tr>"
        )
    return (
        "<table><thead><tr><th>table</th><th class='num'>read</th><th class='num'>landed</th>"
        "<th class='num'>quarantined</th><th class='num'>duplicates dropped</th><th>quarantine reasons</th>"
        f"<th>read = landed + quarantined + duplicates</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _quality(manifest: dict) -> str:
    quality = manifest.get("quality") or {}
    results = [(table, r) for table, rs in quality.items() for r in rs]
    if not results:
        return "<p>No data-quality results recorded.</p>"
    outcomes = ("passed", "warned", "quarantined", "failed")
    summary_rows = []
    for table, rs in quality.items():
        counts = {o: sum(r.get("outcome") == o for r in rs) for o in outcomes}
        summary_rows.append(
            f"<tr><td>{_e(table)}</td><td class='num'>{len(rs):,}</td>"
            + "".join(f"<td class='num{' hot' if o != 'passed' and counts[o] else ''}'>{counts[o]:,}</td>" for o in outcomes)
            + "</tr>"
        )
    summary = (
        "<table><thead><tr><th>table</th><th class='num'>rules</th>"
        + "".join(f"<th class='num'>{o}</th>" for o in outcomes)
        + f"</tr></thead><tbody>{''.join(summary_rows)}</tbody></table>"
    )

    def rule_rows(items):
        return "".join(
            f"<tr><td>{_e(t)}</td><td>{_e(r.get('rule'))}</td><td>{_e(r.get('severity'))}</td>"
            f"<td class='num'>{_n(r.get('rows_checked'))}</td><td class='num'>{_n(r.get('rows_failing'))}</td>"
            f"<td>{_badge(r.get('outcome', ''))}</td><td class='detail' title='{_e(r.get('detail', ''))}'>{_e(_clip(r.get('detail', '')))}</td></tr>"
            for t, r in items
        )

    head = (
        "<thead><tr><th>table</th><th>rule</th><th>severity</th><th class='num'>rows checked</th>"
        "<th class='num'>rows failing</th><th>outcome</th><th>detail</th></tr></thead>"
    )
    flagged = [(t, r) for t, r in results if r.get("outcome") != "passed"]
    passed = [(t, r) for t, r in results if r.get("outcome") == "passed"]
    parts = [summary]
    if flagged:
        parts.append(f"<h3>Rules that did not pass ({len(flagged):,})</h3><table>{head}<tbody>{rule_rows(flagged)}</tbody></table>")
    else:
        parts.append("<p>Every rule passed.</p>")
    if passed:
        parts.append(
            f"<details><summary>Rules that passed ({len(passed):,})</summary><table>{head}<tbody>{rule_rows(passed)}</tbody></table></details>"
        )
    return "".join(parts)


CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--ok:#2f855a;--bad:#c53030;--warn:#c05621;--info:#6b46c1;--accent:#2f6db5}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:1.4em 2em}
header h1{margin:0 0 .3em;font-size:1.5em}
main{max-width:1200px;margin:0 auto;padding:1em 2em 3em}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1em 1.4em;margin:1.2em 0}
h2{font-size:1.15em;margin:.2em 0 .8em}
h3{font-size:1em;margin:1em 0 .4em}
.meta{color:var(--muted)}
.meta b{color:var(--ink);font-weight:600}
.badge{display:inline-block;padding:.1em .65em;border-radius:999px;font-size:.8em;font-weight:600;color:#fff;text-transform:uppercase;letter-spacing:.03em}
header .badge{font-size:.9em;vertical-align:middle;margin-left:.4em}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}.badge.info{background:var(--info)}
.alert{border-left:4px solid var(--bad);background:#fff5f5;padding:.8em 1em;border-radius:4px;margin:1em 0 0}
table{border-collapse:collapse;width:100%;font-size:.92em}
th{text-align:left;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line);padding:.4em .6em}
td{border-bottom:1px solid var(--line);padding:.4em .6em;vertical-align:top}
tr.failed td{background:#fff5f5}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.hot{color:var(--bad);font-weight:600}
.bar{width:18%}.bar span{display:block;height:.7em;margin-top:.4em;background:var(--accent);border-radius:3px;min-width:2px}
.error{color:var(--bad);font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85em;white-space:pre-wrap;margin-top:.3em}
.detail{color:var(--muted);font-size:.85em;max-width:36em}
.zone{display:inline-block;padding:0 .5em;border-radius:4px;font-size:.85em;background:#e4e7eb}
.zone.landing{background:#fefcbf}.zone.trusted{background:#c6f6d5}.zone.curated{background:#bee3f8}
figure{margin:1.2em 0 1.6em}
figure img{max-width:100%;border:1px solid var(--line);border-radius:6px;background:#fff}
figcaption p{margin:.2em 0 .6em;color:var(--ink)}
.small{font-size:.8em;color:var(--muted);margin:.2em 0}
a{color:var(--accent)}
details summary{cursor:pointer;color:var(--muted);margin:.8em 0}
#tables table{max-width:720px}
footer{color:var(--muted);font-size:.85em;text-align:center;padding:1em}
"""


def write_index(run_dir: str | Path, manifest: dict) -> Path:
    """Write `<run_dir>/index.html` for `manifest` (see the module doc); returns its path."""
    run_dir = Path(run_dir)
    run_id = manifest.get("run_id") or run_dir.name
    status = manifest.get("status", "unknown")
    failed = [s for s in manifest.get("steps") or [] if s.get("status") == "failed"]
    alert = "".join(
        f'<div class="alert"><b>Step {_e(s["name"])} failed.</b> <span class="error">{_e(s.get("error", ""))}</span></div>'
        for s in failed
    )
    if status == "failed" and not failed:
        alert = '<div class="alert"><b>The run failed.</b></div>'
    seconds = manifest.get("seconds")
    meta = " · ".join(
        part
        for part in (
            f"policy <b>{_e(manifest.get('policy'))}</b>" if manifest.get("policy") else "",
            f"target <b>{_e(manifest.get('target'))}</b>" if manifest.get("target") else "",
            f"<b>{seconds:,.1f} s</b>" if isinstance(seconds, (int, float)) else "",
            f"lake <code>{_e(manifest.get('lake_dir'))}</code>" if manifest.get("lake_dir") else "",
        )
        if part
    )
    figures = _figures(run_dir)
    captions = _captions(run_dir)
    funnel = [_figure(n, p, run_dir, captions) for n, p in figures if n == FUNNEL_FIGURE]
    analysis_figures = [_figure(n, p, run_dir, captions) for n, p in figures if n != FUNNEL_FIGURE]
    tables = _tables(manifest) + "".join(funnel)
    analysis_section = (
        f"<section id='analysis'><h2>Balance analysis</h2>{''.join(analysis_figures)}</section>" if analysis_figures else ""
    )
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>STEDI run {_e(run_id)} · {_e(status)}</title><style>{CSS}</style></head>
<body>
<header><h1>STEDI run <code>{_e(run_id)}</code> {_badge(status)}</h1>
<div class="meta">{meta}</div>{alert}</header>
<main>
<section id="steps"><h2>Steps</h2>{_steps(run_dir, manifest)}</section>
<section id="tables"><h2>Row counts</h2>{tables}</section>
<section id="intake"><h2>Intake and quarantine</h2>{_intake(manifest)}</section>
<section id="quality"><h2>Data quality</h2>{_quality(manifest)}</section>
{analysis_section}
</main>
<footer>Generated {generated} · <a href="manifest.json">manifest.json</a></footer>
</body></html>
"""
    path = run_dir / "index.html"
    tmp = run_dir / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
