"""The report drawer's helper process: ``python -m fpqc.backends.html.draw_page``.

It imports matplotlib at once, then reads a report and its evaluation as one JSON
document on stdin and writes :func:`~fpqc.backends.html.report_page.report_page`'s page
to stdout.  It imports nothing else of fpqc's (no xDSL, no ONNX): the helper runs beside
a compile on the same cores, so what it imports the compile waits for.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import matplotlib.figure  # noqa: F401  (what the first chart would otherwise wait for)

    from fpqc.backends.html.report_page import report_page

    document = json.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(report_page(document["report"], document["evaluation"]).encode())


if __name__ == "__main__":
    main()
