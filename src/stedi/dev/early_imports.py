"""A pytest plugin that pyproject.toml loads first (`-p stedi.dev.early_imports`), before the
entry-point plugins: nbval imports nbformat, and so jsonschema, before any conftest. It keeps
jsonschema from building rfc3987_syntax's IRI grammar (1.1 s) in every test process, as stedi's
own processes do (stedi.run.notebook_execution.skip_iri_format_checker)."""

from stedi.run.notebook_execution import skip_iri_format_checker

skip_iri_format_checker()
