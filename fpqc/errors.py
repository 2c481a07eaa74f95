"""The one exception type users see.

Every error caused by user input (a file, an ONNX node, an option, an IR op)
is raised as :class:`FpqcError` with a single-line message that names the
offending thing and says what to do.  The CLI prints ``error: <message>`` and
exits with status 1; anything else escaping is a bug in fpqc.

The lower layers cannot import this module, so they have error types of their
own (:class:`~fpqc.numerics.NumericsError` for numbers,
:class:`~fpqc.dialects.tensor_types.UnsupportedElementType` for element
types); ``USER_ERRORS`` lists every type the CLI reports as a user error.
"""

from fpqc.dialects.tensor_types import UnsupportedElementType
from fpqc.numerics.errors import NumericsError


class FpqcError(Exception):
    """A user-facing error with a one-line, actionable message."""


USER_ERRORS = (FpqcError, NumericsError, UnsupportedElementType)
