"""A zone notebook as an AWS Glue ETL job: its settings from the magics, its script from the other
cells.

The notebook stays the one source; `stedi aws deploy` calls `glue_job` at deploy time.
- The magics cell (the first code cell, every line a `%magic`) gives the job's settings
  (`job_settings`): `%glue_version` → GlueVersion, `%worker_type` → WorkerType,
  `%number_of_workers` → NumberOfWorkers, `%idle_timeout` (or `%timeout`, which wins) →
  Timeout in minutes, `%extra_py_files` → `--extra-py-files` (its `stedi.zip` replaced by the
  deployment's), `%additional_python_modules`, `%extra_jars`, `%spark_conf` → their job
  arguments, `%connections` → Connections, `%security_config` → SecurityConfiguration,
  `%tags` → Tags. `%iam_role` and `%region` give way to deploy's role and region, and
  `%session_id_prefix` names sessions only: the three are not job settings.
- A `%%configure` cell (a dict, read with ast.literal_eval as the glue_pyspark kernel reads it):
  the keys that kernel manages itself are the magics of the same names; every other key is a
  job parameter (`--` prefixed when it has none), as the kernel passes it to the session. The
  notebooks install stedi's modules there (`--additional-python-modules` with a requirements
  file, `--python-modules-installer-option -r`: stedi.engine.glue_iceberg); deploy replaces the
  file by the deployment's copy.
- The `parameters` cell becomes job arguments: each `name: type = default  # comment` is
  read from `--name value` with awsglue.utils.getResolvedOptions when the job run has it
  (the literal's type converts it: str, int, float, bool), else keeps the notebook's default.
  getResolvedOptions registers Glue's own arguments itself (`--JOB_ID`, `--JOB_RUN_ID`,
  `--SECURITY_CONFIGURATION`, `--TempDir`, the bookmark options, ...) and returns them whether
  asked or not (None when absent); asking for one again is an argparse "conflicting option
  string" error, so the script never asks for them, and a parameter may not take their names.
- Markdown cells become comments; code cells are copied verbatim, after Glue's job boilerplate
  (getResolvedOptions, SparkContext/GlueContext, Job.init) and before `job.commit()`. The
  workflow's last job then forgets an erasure's history (_forgetting_erased_history).
  stedi's target glue runs on `glueContext.spark_session` (stedi.engine.session.use_glue_session).
- IPython-only constructs: the value of a cell's last expression, which IPython displays, goes
  to `sys.displayhook` (what a plain Python prompt does: printed unless None, into the job's
  log). Magics, shell escapes (`!`), `get_ipython()` and `display()` have no meaning in a Glue
  job: a notebook using them outside the magics cell is refused, naming the cell.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from stedi.errors import UsageError

TYPES = ("str", "int", "float", "bool")
# What a step's run may take from the job run besides its parameters: the workflow's run id
# (Glue passes it to jobs a workflow starts) or the job run's id, to name the run's records.
RUN_IDS = ("WORKFLOW_RUN_ID", "JOB_RUN_ID")
# The options awsglue.utils.getResolvedOptions adds to its parser itself (awsglue's Job.id_params,
# bookmark, encryption and lineage options, TempDir): the script must not ask for them again,
# and a notebook parameter may not be named as one (as the returned dict names them).
GLUE_OWN_OPTIONS = (
    "JOB_ID",
    "JOB_RUN_ID",
    "SECURITY_CONFIGURATION",
    "TempDir",
    "RedshiftTempDir",
    "job_bookmark_option",
    "job_bookmark_from",
    "job_bookmark_to",
    "continuation_option",
    "encryption_type",
    "enable_data_lineage",
)
ASKED_RUN_IDS = tuple(name for name in RUN_IDS if name not in GLUE_OWN_OPTIONS)
IPYTHON_NAMES = ("get_ipython", "display")

# magic -> DefaultArguments key of the job
ARGUMENT_MAGICS = {
    "additional_python_modules": "--additional-python-modules",
    "extra_jars": "--extra-jars",
    "spark_conf": "--conf",
}
SESSION_ONLY_MAGICS = ("iam_role", "region", "session_id_prefix")
# The %%configure keys the glue_pyspark kernel (aws-glue-sessions 1.0.9) manages itself rather than
# passing them on as job parameters; those without a job setting here are refused.
CONFIGURE_MANAGED = tuple(
    "profile endpoint region iam_role session_id max_capacity number_of_workers worker_type "
    "connections glue_version security_config idle_timeout tags timeout extra_jars".split()
)
KNOWN_MAGICS = (
    "glue_version",
    "worker_type",
    "number_of_workers",
    "idle_timeout",
    "timeout",
    "extra_py_files",
    "connections",
    "security_config",
    "tags",
    *ARGUMENT_MAGICS,
    *SESSION_ONLY_MAGICS,
)


@dataclass(frozen=True)
class Parameter:
    """One line of the `parameters` cell."""

    name: str
    kind: str  # one of TYPES
    default: object
    comment: str


@dataclass(frozen=True)
class GlueJob:
    """What deploy needs of one notebook: its magics, its parameters and the job script's text."""

    notebook: Path
    magics: dict[str, str]
    parameters: tuple[Parameter, ...]
    script: str
    configure: dict[str, str] = dataclasses.field(
        default_factory=dict
    )  # the %%configure job parameters


def _cells(notebook: Path):
    import nbformat

    if not notebook.is_file():
        raise UsageError(f"notebook {notebook} does not exist")
    return nbformat.read(notebook, as_version=4).cells


def _is_magics_cell(source: str) -> bool:
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    return bool(lines) and all(line.startswith("%") and not line.startswith("%%") for line in lines)


def magics_of(source: str, where: str) -> dict[str, str]:
    """The `%name value` lines of a magics cell; UsageError for a magic a Glue job has no setting
    for."""
    found = {}
    for line in source.splitlines():
        if not line.strip():
            continue
        name, _, value = line.strip()[1:].partition(" ")
        if name not in KNOWN_MAGICS:
            raise UsageError(
                f"{where}: magic %{name} has no Glue job setting (known: {', '.join(KNOWN_MAGICS)})"
            )
        found[name] = value.strip()
    return found


def configure_of(source: str, where: str) -> tuple[dict[str, str], dict[str, str]]:
    """(magics, job parameters) of a `%%configure` cell: the kernel-managed keys as magics, every
    other key as a `--`-prefixed job parameter; UsageError for what the kernel could not read."""
    body = source.strip().split("\n", 1)[1] if "\n" in source.strip() else ""
    try:
        settings = ast.literal_eval(body) if body.strip() else {}
    except (ValueError, SyntaxError):
        raise UsageError(f"{where}: the %%configure cell is not a dict literal") from None
    if not isinstance(settings, dict):
        raise UsageError(f"{where}: the %%configure cell is not a dict literal")
    magics, arguments = {}, {}
    for key, value in settings.items():
        key = str(key)
        if key in CONFIGURE_MANAGED:
            if key in (
                "profile",
                "endpoint",
                "session_id",
            ):  # the session's, as %iam_role and %region
                continue
            if key not in KNOWN_MAGICS:
                raise UsageError(f"{where}: %%configure {key} has no Glue job setting")
            if isinstance(value, dict):  # tags
                value = ",".join(f"{k}:{v}" for k, v in value.items())
            magics[key] = str(value)
        else:
            arguments[key if key.startswith("--") else f"--{key}"] = str(value)
    return magics, arguments


def _is_configure_cell(source: str) -> bool:
    return source.lstrip().startswith("%%configure")


def parameters_of(source: str, where: str) -> tuple[Parameter, ...]:
    """The typed assignments of a `parameters` cell, with their trailing comments."""
    lines = source.splitlines()
    found = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None):
            raise UsageError(
                f"{where}: the parameters cell may hold only assignments (line {node.lineno})"
            )
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        if not isinstance(target, ast.Name):
            raise UsageError(f"{where}: parameter on line {node.lineno} is not a plain name")
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise UsageError(f"{where}: parameter {target.id} has no literal default") from None
        kind = (
            node.annotation.id
            if isinstance(node, ast.AnnAssign) and isinstance(node.annotation, ast.Name)
            else (type(default).__name__)
        )
        if kind not in TYPES:
            raise UsageError(
                f"{where}: parameter {target.id} is a {kind}; a Glue job argument converts to "
                f"{', '.join(TYPES)}"
            )
        if target.id in (*GLUE_OWN_OPTIONS, "JOB_NAME", *RUN_IDS):
            raise UsageError(
                f"{where}: parameter {target.id} has the name of an argument Glue passes itself; "
                "rename it"
            )
        rest = lines[node.end_lineno - 1][node.end_col_offset :].strip()
        found.append(
            Parameter(target.id, kind, default, rest[1:].strip() if rest.startswith("#") else "")
        )
    return tuple(found)


def _ipython_only(source: str) -> str | None:
    """The first IPython-only construct of a code cell, or None."""
    from IPython.core.inputtransformer2 import TransformerManager

    if (
        "get_ipython()" in TransformerManager().transform_cell(source)
        and "get_ipython()" not in source
    ):
        marked = [
            line.strip() for line in source.splitlines() if line.strip().startswith(("%", "!"))
        ]
        return marked[0] if marked else "IPython syntax"
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None  # compile() of the whole script names it
    used = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    return next((f"{name}()" for name in IPYTHON_NAMES if name in used), None)


def _displayed(source: str) -> str:
    """The cell with its last expression, which IPython would display, passed to sys.displayhook."""
    body = ast.parse(source).body
    if not body or not isinstance(body[-1], ast.Expr) or body[-1].col_offset != 0:
        return source
    last = body[-1]
    lines = source.splitlines()
    shown = "\n".join(lines[last.lineno - 1 : last.end_lineno])
    return "\n".join(
        [*lines[: last.lineno - 1], f"sys.displayhook({shown})", *lines[last.end_lineno :]]
    )


def _comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.splitlines())


def _read_argument(p: Parameter) -> str:
    value = f'args["{p.name}"]'
    converted = {
        "str": value,
        "int": f"int({value})",
        "float": f"float({value})",
        "bool": f'{value}.lower() == "true"',
    }
    comment = f"  # {p.comment}" if p.comment else ""
    return (
        f'{p.name}: {p.kind} = {converted[p.kind]} if "{p.name}" in args else '
        f"{p.default!r}{comment}"
    )


def _boilerplate(
    step: str, notebook: Path, magics: dict[str, str], parameters: tuple[Parameter, ...]
) -> list[str]:
    names = ", ".join(f'"{name}"' for name in (*(p.name for p in parameters), *ASKED_RUN_IDS))
    lines = [
        f"# {step}: an AWS Glue job script generated by `stedi aws deploy` from "
        f"{notebook.parent.name}/{notebook.name}.",
        "# Do not edit: the notebook is the source; every deploy generates this script again.",
        *(f"# %{name} {value}" for name, value in magics.items()),
        "import sys",
        "",
        "from awsglue.context import GlueContext",
        "from awsglue.job import Job",
        "from awsglue.utils import getResolvedOptions",
        "from pyspark.context import SparkContext",
        "",
        "from stedi.engine.session import use_glue_session",
        "from stedi.run.folder import lake_records",
        "",
        "# The notebook's parameters: `--<name> <value>` of the job run when it has one, else the "
        "notebook's default.",
        "# (getResolvedOptions returns JOB_ID, JOB_RUN_ID, TempDir, ... unasked: asking again is "
        "an argparse error.)",
        f'_given = [name for name in ({names}) if f"--{{name}}" in sys.argv]',
        'args = getResolvedOptions(sys.argv, ["JOB_NAME", *_given])',
        *(_read_argument(p) for p in parameters),
    ]
    declared = {p.name for p in parameters}
    if {"run_dir", "lake_dir"} <= declared:
        lines += [
            "# A workflow's job (or a job run): the step leaves its completion record in the "
            "lake's _runs/<run id>/.",
            f"_run_id = next((args[name] for name in {RUN_IDS!r} if args.get(name)), None)",
            "if not run_dir and _run_id:",
            "    run_dir = lake_records(lake_dir, _run_id)",
        ]
    return lines + [
        "",
        "sc = SparkContext.getOrCreate()",
        "glueContext = GlueContext(sc)",
        "spark = glueContext.spark_session",
        "use_glue_session(spark)  # stedi's target glue runs on this session",
        "job = Job(glueContext)",
        'job.init(args["JOB_NAME"], args)',
    ]


def _forgetting_erased_history(notebook: Path, parameters: tuple[Parameter, ...]) -> list[str]:
    """The end of the workflow's last job, which a workflow run reaches once every other zone step
    succeeded in it (stedi.aws.deploy's triggers): as `stedi run` then does, it forgets an erasure's
    history (stedi.run.freshness.forget_erased_history)."""
    if not {"lake_dir", "database"} <= {p.name for p in parameters}:
        raise UsageError(
            f"{notebook.name} ends the workflow: it needs parameters lake_dir, database"
        )
    return [
        "",
        "# The workflow's last job: every zone step succeeded in this workflow run, so no",
        "# table, nor any older snapshot, may keep an erased customer (alone: the next run).",
        'if args.get("WORKFLOW_RUN_ID"):',
        "    from stedi.lake.icelake import forget_history, history_to_forget",
        "",
        "    if history_to_forget(lake_dir):",
        '        print("erasure: files deleted per table", forget_history(lake_dir, database))',
    ]


def glue_job(notebook: Path, *, ends_workflow: bool = False) -> GlueJob:
    """Read `notebook` and generate its Glue job script (checked to compile); UsageError naming the
    problem. `ends_workflow`: the job is the workflow's last (_forgetting_erased_history)."""
    step = notebook.stem
    magics: dict[str, str] | None = None
    configure: dict[str, str] = {}
    parameters: tuple[Parameter, ...] | None = None
    body: list[str] = []
    seen_code = False  # the magics cell is the first code cell
    for number, cell in enumerate(_cells(notebook), 1):
        where = f"{notebook.name} cell {number}"
        source = cell.source
        if cell.cell_type == "markdown":
            body += ["", _comment(source)]
        elif cell.cell_type != "code" or not source.strip():
            continue
        elif not seen_code and _is_magics_cell(source):
            magics = magics_of(source, where)
        elif _is_configure_cell(source):
            configured, configure = configure_of(source, where)
            magics = {**(magics or {}), **configured}
        elif "parameters" in cell.metadata.get("tags", []):
            parameters = parameters_of(source, where)
        else:
            construct = _ipython_only(source)
            if construct is not None:
                raise UsageError(
                    f"{where} uses {construct}, which only IPython runs; a Glue job script cannot"
                )
            try:
                body += ["", _displayed(source)]
            except SyntaxError as exc:
                raise UsageError(f"{where}: {exc.msg} (line {exc.lineno})") from None
        seen_code = seen_code or cell.cell_type == "code"
    if parameters is None:
        raise UsageError(f"{notebook.name} has no cell tagged `parameters`")
    if ends_workflow:
        body += _forgetting_erased_history(notebook, parameters)
    lines = _boilerplate(step, notebook, magics or {}, parameters) + body + ["", "job.commit()", ""]
    script = "\n".join(lines)
    try:
        compile(script, f"{step}.py", "exec")
    except SyntaxError as exc:
        raise UsageError(
            f"the script generated from {notebook.name} does not compile: {exc.msg} (line "
            f"{exc.lineno})"
        ) from exc
    return GlueJob(notebook, magics or {}, parameters, script, configure)
