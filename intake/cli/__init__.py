"""The ``intake`` command line: each command builds its objects, calls one function, and turns
an application error into a one-line message and a non-zero exit (``base``)."""

from __future__ import annotations

from intake.cli import mailbox, ops, people, reports
from intake.cli.base import main

__all__ = ["mailbox", "main", "ops", "people", "reports"]
