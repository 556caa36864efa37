"""The run's choices, typed: `Policy`, `Engine` and `Target`, each parsed from text once.

A choice is settled where it enters, and nowhere again:
- the command line (stedi.run.options: the shared options parse `--policy`, `--engine`, `--target`);
- the other side of each text boundary: a notebook's papermill parameters and a Glue job's
  arguments (stedi.run.step.start), the kernel's $STEDI_ENGINE (stedi.engine.session.engine_for),
  a manifest read back for `--resume` (stedi.run.runner).
Everything after that takes the enum and checks nothing. The members are strings
(`Policy.STRICT == "strict"`), so they go into JSON, snapshot summaries and messages as their value.

Standard library only: the pure transforms (stedi.core.transforms) branch on `Policy`.
"""

from __future__ import annotations

from enum import StrEnum


class _Choice(StrEnum):
    @classmethod
    def parse(cls, text: str):
        """The member named `text`; ValueError (one line, naming the choices) for any other text."""
        try:
            return cls(text)
        except ValueError:
            choices = ", ".join(member.value for member in cls)
            raise ValueError(
                f"unknown {cls.__name__.lower()} {str(text)!r}; choose one of: {choices}"
            ) from None

    @classmethod
    def argument(cls, text: str):
        """argparse's `type=` of an option with `choices=cls.choices()`: the member named `text`, or
        the text itself, which argparse then refuses in its own one line ("invalid choice: ...")."""
        try:
            return cls(text)
        except ValueError:
            return text

    @classmethod
    def choices(cls) -> list[str]:
        return [member.value for member in cls]


class Policy(_Choice):
    """`strict`: time-bounded consent, owner-consistent ML join, no direct identifier in the ML
    table; `udacity`: the public STEDI project rubric's row counts (stedi.core.transforms)."""

    STRICT = "strict"
    UDACITY = "udacity"


class Engine(_Choice):
    """The local engine behind PySpark's API: `spark` (PySpark's local mode) or `sail` (Sail through
    Spark Connect). On AWS Glue the engine is always Spark."""

    SPARK = "spark"
    SAIL = "sail"

    @classmethod
    def of(cls, session_or_frame) -> Engine:
        """The engine behind a session (or a DataFrame of it): SAIL for a Spark Connect client, else
        SPARK."""
        # By module name: importing pyspark.sql.connect needs grpc, which a Glue session may not
        # have.
        return (
            cls.SAIL
            if type(session_or_frame).__module__.startswith("pyspark.sql.connect")
            else cls.SPARK
        )


class Target(_Choice):
    """Where the notebooks run: `local` (this machine) or `glue` (AWS Glue sessions)."""

    LOCAL = "local"
    GLUE = "glue"
