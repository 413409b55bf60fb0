"""Exceptions raised at the package boundary.

Every error names the offending path or value so that a user can fix the input
without reading a traceback.
"""


class AgreementError(Exception):
    """Base class of all errors raised by ``agreement_core``."""


class DatasetError(AgreementError):
    """A dataset is missing, truncated, laid out wrongly or unreadable."""


class RecordStoreError(AgreementError):
    """A record store is missing, corrupt, or does not match the run asked for."""


class ConfigError(AgreementError, ValueError):
    """A configuration value (architecture, parameter, option) is not valid."""
