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

    #: In a notebook, wrap the message at 88 columns instead of one line: for the stops a
    #: page is expected to show (a missing dataset or study), whose message is a paragraph.
    wrapped = False

    def _render_traceback_(self):
        if self.wrapped:
            return textwrap.wrap(f"{type(self).__name__}: {self}", 88, break_long_words=False,
                                 break_on_hyphens=False)
        # One line, unwrapped: a notebook's reader (and a test) sees exactly what was wrong.
        return [f"{type(self).__name__}: {one_line(str(self))}"]


class DatasetError(AgreementError):
    """A dataset is missing, truncated, laid out wrongly or unreadable."""


class RecordStoreError(AgreementError):
    """A record store is missing, corrupt, or does not match the run asked for."""


class ConfigError(AgreementError, ValueError):
    """A configuration value (architecture, parameter, option) is not valid."""


class DerivedFileError(AgreementError):
    """A derived file (statistics, dynamics or claims table) is missing, truncated, corrupt,
    or stale (derived from inputs that have changed since). The message names the file."""

    def __init__(self, path, why: str, remedy: str = ""):
        self.path, self.why, self.remedy = path, why, remedy
        super().__init__(f"{path}: {why}" + (f"; {remedy}" if remedy else ""))


class DiskFull(AgreementError, OSError):
    """No space left on the device (or the quota) while writing ``path``.

    Raised by the atomic writer whatever layer reported it (the OS, pyarrow, torch's
    serializer); ``path`` is left as it was. The command line turns it into one line with
    where the finished work is kept and the command that resumes.
    """

    PREFIX = "no space left on device writing "

    def __init__(self, path):
        self.path = path
        AgreementError.__init__(self, f"{self.PREFIX}{path}")
        self.errno, self.strerror, self.filename = 28, "No space left on device", str(path)

    def __str__(self) -> str:
        return f"{self.PREFIX}{self.path}"


def one_line(message: str) -> str:
    """``message`` with its line breaks joined by ``"; "``: an error is one line to show."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


class DatasetUnavailable(AgreementError):
    """A dataset a figure needs is not on this machine.

    The message says what is missing and how to get it, in words that hold on any machine
    (``<data root>``, never this machine's paths): the book shows it as a note. ``detail``
    says where it was looked for on this machine: IPython and the command line show it on a
    line of its own.
    """

    wrapped = True

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail

    def _render_traceback_(self):
        lines = super()._render_traceback_()
        return lines + ([f"(looked for it here: {one_line(self.detail)})"] if self.detail else [])


class StudyMissing(AgreementError):
    """The results a figure needs have not been computed (and training was not asked for)."""

    wrapped = True
