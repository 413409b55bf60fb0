"""Exceptions raised at the package boundary.

Every error names the offending path or value so that a user can fix the input
without reading a traceback.
"""

import textwrap


class AgreementError(Exception):
    """Base class of all errors raised by ``agreement_core``."""


class DatasetError(AgreementError):
    """A dataset is missing, truncated, laid out wrongly or unreadable."""


class RecordStoreError(AgreementError):
    """A record store is missing, corrupt, or does not match the run asked for."""


class ConfigError(AgreementError, ValueError):
    """A configuration value (architecture, parameter, option) is not valid."""


def _wrapped(message: str) -> list[str]:
    """The lines IPython shows for one of our stops: the message, wrapped, no traceback."""
    return textwrap.wrap(message, 88, break_long_words=False, break_on_hyphens=False)


class DatasetUnavailable(AgreementError):
    """A dataset a figure needs is not on this machine.

    IPython shows only the message (no traceback), so an executed notebook states
    plainly what is missing and how to get it.
    """

    def _render_traceback_(self):
        return _wrapped(f"DatasetUnavailable: {self}")


class StudyMissing(AgreementError):
    """The results a figure needs have not been computed (and training was not asked for)."""

    def _render_traceback_(self):
        return _wrapped(f"StudyMissing: {self}")
