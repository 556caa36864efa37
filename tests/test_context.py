"""The run's choices, typed (stedi.context): parsed from text once, refused in one line, strings
after."""

from __future__ import annotations

import json

import pytest

from stedi import config
from stedi.context import Engine, Policy, Target


@pytest.mark.parametrize(
    "choice, text, message",
    [
        (Policy, "lenient", "unknown policy 'lenient'; choose one of: strict, udacity"),
        (Engine, "duckdb", "unknown engine 'duckdb'; choose one of: spark, sail"),
        (Target, "mars", "unknown target 'mars'; choose one of: local, glue"),
    ],
)
def test_an_unknown_choice_is_refused_in_one_line_naming_the_choices(choice, text, message):
    with pytest.raises(ValueError) as refused:
        choice.parse(text)
    assert str(refused.value) == message
    assert choice.argument(text) == text, "argparse's choices refuse it in its own words"


def test_a_choice_is_its_text_once_parsed():
    assert (
        Policy.parse("udacity") is Policy.UDACITY and Policy.parse(Policy.STRICT) is Policy.STRICT
    )
    assert Engine.argument("sail") is Engine.SAIL and Target.choices() == ["local", "glue"]
    assert Policy.STRICT == "strict" and f"{Engine.SAIL}" == "sail" and str(Target.GLUE) == "glue"
    assert json.dumps({"policy": Policy.UDACITY}) == '{"policy": "udacity"}'
    assert config.POLICIES == ("strict", "udacity") and config.DEFAULT_POLICY is Policy.STRICT
    assert config.ENGINES == ("spark", "sail") and config.DEFAULT_ENGINE is Engine.SAIL


def test_the_engine_of_a_classic_session_is_spark(spark):
    assert Engine.of(spark) is Engine.SPARK
    assert Engine.of(spark.range(1)) is Engine.SPARK


def test_a_step_parses_its_text_parameters_before_opening_anything(tmp_path):
    from stedi.run.step import start

    with pytest.raises(
        ValueError, match="unknown policy 'lenient'; choose one of: strict, udacity"
    ):
        start("01_customer_landing_to_trusted", lake_dir=str(tmp_path), policy="lenient")
    with pytest.raises(ValueError, match="unknown target 'mars'"):
        start("01_customer_landing_to_trusted", lake_dir=str(tmp_path), target="mars")
    with pytest.raises(
        ValueError, match="target glue runs Spark; engine 'sail' runs only on target local"
    ):
        start(
            "01_customer_landing_to_trusted", lake_dir=str(tmp_path), target="glue", engine="sail"
        )
    assert not any(tmp_path.iterdir()), "nothing written"
