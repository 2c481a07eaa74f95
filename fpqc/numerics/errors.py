"""The error type of fpqc's numbers.

Raised for arguments no format, scale or table can take (an unknown format
name, a group size that does not divide K, a Hadamard block that is not a
power of two).  The message is one line that says what to use instead; the
CLI reports it as ``error: <message>`` like any other user error.
"""


class NumericsError(ValueError):
    """An invalid number format, rounding mode, scale or shape, with a one-line message."""
