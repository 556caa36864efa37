"""The pipeline, declared once: every step's notebook, transform, inputs and outputs.

Everything that needs to know the pipeline's shape reads it from here: the runner
(order, what a step must have written, `--dry-run`, `--from`, `--only`, resume),
the report, the analysis's recomputation of both policies (`derive`), and the
tests (a notebook reads and writes exactly what its step declares).

A zone step's transform is called as `transform(*inputs, policy)`, its inputs in
the order of `reads`, and returns the one table of `writes`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stedi import config
from stedi.context import Policy
from stedi.core.tables import SOURCES, TABLES, landing_table

ZONE = "zone"  # a glue_sessions/ notebook: runs locally and on AWS Glue, writes lake tables
ANALYSIS = "analysis"  # a notebooks/ notebook: reads the lake, writes figures; local runs only


@dataclass(frozen=True)
class PipelineStep:
    """A step as the pipeline declares it (the notebook's own context is stedi.run.step.Step)."""

    name: str  # the notebook's file name without .ipynb; the step's name everywhere
    kind: str  # ZONE or ANALYSIS
    reads: tuple[str, ...] = ()  # lake tables, in the order the transform takes them
    writes: tuple[str, ...] = ()  # lake tables the step must have written to count as done
    transform: str = ""  # "module:function" of the transform the notebook calls
    sources: tuple[str, ...] = ()  # raw export folders the step reads (the intake)
    # The inputs the transform distributes over: f(A + new rows, B) = f(A, B) + f(new rows, B).
    # When only those got rows added since the step last ran, publishing adds f of the new
    # rows to the table instead of computing it whole (stedi.run.incremental).
    appendable: tuple[str, ...] = ()
    # (input, column) of appendable inputs whose rows the transform only pairs by equality of these
    # columns (an inner equi-join): f of one input's new rows needs only the other's rows whose
    # value is one of theirs, so the incremental run reads no more of the other
    # (stedi.run.incremental).
    paired_on: tuple[tuple[str, str], ...] = ()
    # (input, policy): an input the transform distributes over under that policy only (the strict
    # ML table joins the curated customers; the udacity one does not read them).
    appendable_under: tuple[tuple[str, str], ...] = ()
    # Inputs the transform filters its first input by (a row is kept when it has a match there):
    # rows added to one keep more rows of the first input (stedi.run.incremental).
    filtered_by: tuple[str, ...] = ()

    @property
    def notebook(self) -> Path:
        folder = config.GLUE_SESSIONS_DIR if self.kind == ZONE else config.NOTEBOOKS_DIR
        return folder / f"{self.name}.ipynb"

    @property
    def number(self) -> str:
        """ "00" … "05" for zone steps (the notebook's prefix); "" for the analysis."""
        head = self.name.split("_", 1)[0]
        return head if head.isdigit() else ""

    def transform_function(self) -> Callable:
        module, _, function = self.transform.partition(":")
        return getattr(importlib.import_module(module), function)

    def inputs(self) -> tuple[str, ...]:
        """What the step reads, as `--dry-run` shows it: raw export folders, then lake tables."""
        return (*(f"raw/{source}" for source in self.sources), *self.reads)


_TRANSFORMS = "stedi.core.transforms"

PIPELINE: tuple[PipelineStep, ...] = (
    PipelineStep(
        "00_raw_to_landing",
        ZONE,
        sources=SOURCES,
        writes=tuple(landing_table(source) for source in SOURCES),
    ),
    PipelineStep(
        "01_customer_landing_to_trusted",
        ZONE,
        reads=("customer_landing",),
        writes=("customer_trusted",),
        transform=f"{_TRANSFORMS}.customer_trusted:consenting_customers",
    ),
    PipelineStep(
        "02_accelerometer_landing_to_trusted",
        ZONE,
        reads=("accelerometer_landing", "customer_trusted"),
        writes=("accelerometer_trusted",),
        transform=f"{_TRANSFORMS}.accelerometer_trusted:consented_accelerometer_readings",
        appendable=("accelerometer_landing",),
    ),
    PipelineStep(
        "03_customer_trusted_to_curated",
        ZONE,
        reads=("customer_trusted", "accelerometer_trusted"),
        writes=("customer_curated",),
        transform=f"{_TRANSFORMS}.customer_curated:customers_with_readings",
        filtered_by=("accelerometer_trusted",),
    ),
    PipelineStep(
        "04_step_trainer_landing_to_trusted",
        ZONE,
        reads=("step_trainer_landing", "customer_curated"),
        writes=("step_trainer_trusted",),
        transform=f"{_TRANSFORMS}.step_trainer_trusted:consented_step_trainer_readings",
        appendable=("step_trainer_landing",),
        filtered_by=("customer_curated",),
    ),
    PipelineStep(
        "05_machine_learning_curated",
        ZONE,
        reads=("step_trainer_trusted", "accelerometer_trusted", "customer_curated"),
        writes=("machine_learning_curated",),
        transform=f"{_TRANSFORMS}.machine_learning_curated:machine_learning_readings",
        appendable=("step_trainer_trusted", "accelerometer_trusted"),
        appendable_under=(("customer_curated", Policy.STRICT),),
        paired_on=(
            ("step_trainer_trusted", "sensorReadingTime"),
            ("accelerometer_trusted", "timestamp"),
        ),
    ),
    # The exploratory analysis: every table (the consent funnel compares each with both
    # policies' recomputation); run last on a local build, a failure fails the run.
    PipelineStep("balance_analysis", ANALYSIS, reads=tuple(TABLES)),
)

STEPS: dict[str, PipelineStep] = {step.name: step for step in PIPELINE}
ZONE_STEPS: tuple[PipelineStep, ...] = tuple(step for step in PIPELINE if step.kind == ZONE)


class UnknownStep(ValueError):
    pass


def steps_for(on_glue: bool) -> tuple[PipelineStep, ...]:
    """The steps of a run: the zone steps, and the analysis on a local build."""
    return ZONE_STEPS if on_glue else PIPELINE


def find(name: str, among: tuple[PipelineStep, ...] = PIPELINE) -> PipelineStep:
    """A step by its name, its number ("02"), or its name without the number."""
    for step in among:
        if name in (
            step.name,
            step.number,
            step.name.partition("_")[2] if step.number else step.name,
        ):
            return step
    raise UnknownStep(f"unknown step {name!r}; the steps are: {', '.join(s.name for s in among)}")


def select(
    steps: tuple[PipelineStep, ...], *, start: str = "", only: str = ""
) -> tuple[PipelineStep, ...]:
    """`steps` from `start` on (--from), or just the comma-separated `only` (--only), in pipeline
    order."""
    if start and only:
        raise UnknownStep("--from and --only do not go together")
    if start:
        first = find(start, steps)
        return steps[steps.index(first) :]
    if only:
        wanted = {find(name.strip(), steps) for name in only.split(",") if name.strip()}
        return tuple(step for step in steps if step in wanted)
    return steps


def external_inputs(selected: tuple[PipelineStep, ...]) -> tuple[str, ...]:
    """The lake tables the selected steps read that none of them writes: they must exist already."""
    written: set[str] = set()
    needed: list[str] = []
    for step in selected:
        needed += [t for t in step.reads if t not in written and t not in needed]
        written.update(step.writes)
    return tuple(needed)


def producer(table: str) -> PipelineStep:
    """The step that writes `table`."""
    return next(step for step in ZONE_STEPS if table in step.writes)


def derive(landing: dict, policy: str) -> dict:
    """Every lake table under `policy`, computed from the landing tables by the zone steps'
    transforms.

    `landing` maps each landing table name to a DataFrame; the result holds those and every
    table a zone step with a transform writes, in pipeline order.
    """
    tables = dict(landing)
    for step in ZONE_STEPS:
        if step.transform:
            (output,) = step.writes
            tables[output] = step.transform_function()(
                *(tables[name] for name in step.reads), policy
            )
    return tables


def describe(steps: tuple[PipelineStep, ...] = PIPELINE) -> str:
    """The steps in order with what each reads and writes (`stedi run --dry-run`)."""
    lines = []
    for position, step in enumerate(steps, 1):
        lines.append(f"  [{position}/{len(steps)}] {step.name} ({step.kind})")
        lines.append(f"        reads  {', '.join(step.inputs()) or '-'}")
        lines.append(f"        writes {', '.join(step.writes) or 'figures (no lake table)'}")
        if step.transform:
            lines.append(f"        calls  {step.transform}")
    return "\n".join(lines)
