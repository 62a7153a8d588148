"""MLS-Track's own error for a configuration that cannot be built.

A model hyper-parameter or tracker threshold out of range, an unknown field or preset: the
message names the field and what was expected. It belongs to the product's one error family
(`uecity.core.errors`), so the CLI maps it to its exit code (3, a bad configuration) like every
other user's mistake, and `mlstrack` used as a library raises it without the CLI.
"""

from __future__ import annotations

from uecity.core.errors import UECityError


class ModelConfigError(UECityError):
    """An MLS-Track model or tracker configuration that cannot be built as given."""

    exit_code = 3
