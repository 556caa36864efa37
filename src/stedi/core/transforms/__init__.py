"""Pure zone transforms: DataFrames in, a DataFrame out; no paths, no I/O.

Each module is one zone step. Every function takes the run's policy (stedi.context.Policy, parsed
once where the run's parameters enter; the transforms check it no more):

- ``strict`` (default): consent is time-bounded (a reading counts only from its
  owner's shareWithResearchAsOfDate on), the ML join pairs a step trainer reading
  only with an accelerometer reading of the device's owner, and the ML table
  carries no direct identifier.
- ``udacity``: reproduces the public STEDI project rubric's row counts exactly.
"""
