"""Pure zone transforms: DataFrames in, a DataFrame out; no paths, no I/O.

Each module is one zone step. Every function takes the run's policy:

- ``strict`` (default): consent is time-bounded (a reading counts only from its
  owner's shareWithResearchAsOfDate on), the ML join pairs a step trainer reading
  only with an accelerometer reading of the device's owner, and the ML table
  carries no direct identifier.
- ``udacity``: reproduces the public STEDI project rubric's row counts exactly.
"""

STRICT = "strict"
UDACITY = "udacity"
POLICIES = (STRICT, UDACITY)


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    return policy
