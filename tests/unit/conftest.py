"""Settings for the whole unit suite.

Every compile in the suite -- through ``compile_model`` or the ``fpqc`` command, in this process or
a child -- verifies the IR after each stage (``FPQC_VERIFY_EACH=1``, :func:`fpqc.compiler.verify_each_default`):
a pass that leaves invalid IR fails at that pass.  ``tests/unit/compiler/test_verify_each.py`` checks the
default that users get.
"""

import os

os.environ["FPQC_VERIFY_EACH"] = "1"
