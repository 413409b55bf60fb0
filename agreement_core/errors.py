"""Exceptions raised at the package boundary.

Every error names the offending path or value so that a user can fix the input
without reading a traceback.
"""

import textwrap


class AgreementError(Exception):
    """Base class of all errors raised by ``agreement_core``.

    The message is the whole story: the command line prints it as one ``error:`` line and
    IPython (a notebook) as one line without a traceback (:meth:`_render_traceback_`).
    """

    def _render_traceback_(self):
        # One line, unwrapped: a notebook's reader (and a test) sees exactly what was wrong.
        return [f"{type(self).__name__}: {one_line(str(self))}"]


class DatasetError(AgreementError):
    """A dataset is missing, truncated, laid out wrongly or unreadable."""


class RecordStoreError(AgreementError):
    """A record store is missing, corrupt, or does not match the run asked for."""


class ConfigError(AgreementError, ValueError):
    """A configuration value (architecture, parameter, option) is not valid."""


def one_line(message: str) -> str:
    """``message`` with its line breaks joined by ``"; "``: an error is one line to show."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


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
