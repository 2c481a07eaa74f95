"""The one exception type users see.

Every error caused by user input (a file, an ONNX node, an option, an IR op)
is raised as :class:`FpqcError` with a single-line message that names the
offending thing and says what to do.  The CLI prints ``error: <message>`` and
exits with status 1; anything else escaping is a bug in fpqc.
"""


class FpqcError(Exception):
    """A user-facing error with a one-line, actionable message."""
