"""The one error type a user can cause (a bad flag value, setting, parser definition or path).

Its own module so the command line can catch it without importing what raises it:
`logmetrics --help` must not pay for pydantic.
"""

from __future__ import annotations

__all__ = ["UserError", "errno_label"]


class UserError(ValueError):
    """A mistake in what the user gave us; the message names the file, key or path and what is wrong."""


def errno_label(e: OSError) -> str:
    """A bounded label for an OS error: the errno's name (`enospc`, `eacces`, ...), `oserror` without one."""
    import errno

    return errno.errorcode.get(e.errno or 0, "oserror").lower()
