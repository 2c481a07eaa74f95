"""``fpqc-opt``: xDSL's opt driver with fpqc's dialects and passes, plus ``--weights``.

    fpqc-opt file.mlir -p pass1,pass2{opt=v} [--weights weights.npz]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException
from xdsl.xdsl_opt_main import xDSLOptMain

from fpqc.context import fpqc_dialects
from fpqc.errors import FpqcError
from fpqc.passes import ALL_PASSES
from fpqc.tools.reporting import run_reporting_errors
from fpqc.weights import WeightStore


class FpqcOptMain(xDSLOptMain):
    """xDSL's opt driver with every fpqc dialect and pass registered."""

    def register_all_dialects(self) -> None:
        for dialect in fpqc_dialects():
            self.ctx.register_dialect(dialect.name, lambda d=dialect: d)

    def register_all_passes(self) -> None:
        for name, factory in ALL_PASSES.items():
            self.register_pass(name, factory)

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.add_argument("--weights", default=None, help=".npz weight store for dense_resource references")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fpqc-opt`` on ``argv`` (default: the command line); the exit status."""

    def body() -> int:
        try:
            tool = FpqcOptMain(description="fpqc modular optimizer driver", args=argv)
            store = WeightStore.load(Path(tool.args.weights)) if tool.args.weights else None
            if store is None:
                tool.run()
            else:
                with store.activate():
                    tool.run()
        except (ParseError, VerifyException, DiagnosticException) as e:
            raise FpqcError(str(e).strip()) from None
        return 0

    return run_reporting_errors(body)


if __name__ == "__main__":
    sys.exit(main())
