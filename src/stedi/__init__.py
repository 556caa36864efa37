"""STEDI human balance lakehouse workbench."""

__version__ = "0.1.0"
