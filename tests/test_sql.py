"""sql/: the Athena DDL agrees with the declared tables, and SQL text splits into the statements both engines run."""

from __future__ import annotations

import re

import pytest

from stedi import config
from stedi.core.sqltext import statements
from stedi.core.tables import SOURCES, landing_table, table


def ddl_columns(text: str) -> list[tuple[str, str]]:
    body = text[text.index("(") + 1 : text.index("\n)")]
    return [tuple(m) for m in re.findall(r"`(\w+)`\s+(\w+)", body)]


@pytest.mark.parametrize("source", SOURCES)
def test_landing_ddl_has_the_declared_columns_and_types(source):
    name = landing_table(source)
    text = (config.SQL_DIR / f"{name}.sql").read_text()
    assert f"`stedi`.`{name}`" in text
    assert "org.openx.data.jsonserde.JsonSerDe" in text
    assert f"landing/{name}/" in text
    assert ddl_columns(text) == list(table(name).columns)


def test_statements_drop_leading_comments_and_empty_statements():
    text = "-- counts\n-- of all\nSELECT 1 AS a -- trailing\n;\n\n-- nothing here\n;SELECT 2"
    assert statements(text) == ["SELECT 1 AS a -- trailing", "SELECT 2"]
