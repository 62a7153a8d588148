"""The one error family of UE-City.

Library code raises these for a user's mistake (a bad spec, a broken dataset, a wrong request);
the CLI maps each class to an exit code in one place and prints the message without a traceback.
Anything else escaping to the CLI is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UECityError(Exception):
    """A problem the user can fix. The message names the file, the field and what was expected."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        field: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ):
        self.path = Path(path) if path is not None else None
        self.field = field
        self.line = line  # 1-based position in a text file (YAML), shown as file:line:column
        self.column = column
        super().__init__(message)

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
            if self.field:
                where += f" [{self.field}]"
            where += ": "
        elif self.field:
            where = f"{self.field}: "
        return where + self.args[0]


class UsageError(UECityError):
    """A wrong request on the command line (an option out of range, conflicting options)."""

    exit_code = 2


class SpecError(UECityError):
    """A malformed or impossible input spec (scene YAML, vocabulary, config file)."""

    exit_code = 3


class DatasetError(UECityError):
    """A dataset that cannot be read as asked: missing files, bad records, wrong format version."""

    exit_code = 4


class ValidationFailed(UECityError):
    """`uecity validate` found problems; they were already printed one per line."""

    exit_code = 5


class ExternalToolError(UECityError):
    """An external tool (SUMO, the Unreal Engine, a model hub) failed; its own message is kept."""

    exit_code = 6


class MissingDependencyError(UECityError):
    """An optional dependency is not installed; the message says which extra provides it."""

    exit_code = 7


class RevisionConflict(DatasetError):
    """A save based on a stale copy of a file (two tabs, two people) was refused."""

    exit_code = 8
