"""awsglue.utils stand-in: getResolvedOptions as Glue documents it."""

from __future__ import annotations

import argparse


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str]:
    """{option: value} for each `--option value` of `args`; exits (as argparse does) when one is missing."""
    parser = argparse.ArgumentParser()
    for option in options:
        parser.add_argument(f"--{option}", required=True)
    known, _ = parser.parse_known_args(args[1:])
    return vars(known)
