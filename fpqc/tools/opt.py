"""``fpqc-opt``: xDSL's opt driver with fpqc's dialects and passes, plus ``--weights``.

    fpqc-opt file.mlir -p pass1,pass2{opt=v} [--weights weights.npz] [-o out.mlir]

Every failure is one ``error:`` line (parse errors keep MLIR's location and
caret): a missing, binary or unreadable input, an unknown pass or a pass option
of the wrong type, a bad ``--weights`` archive, an unwritable ``-o``.  The only
output target is ``mlir``, the IR fpqc's passes produce.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import IO

from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException
from xdsl.xdsl_opt_main import xDSLOptMain

from fpqc.context import fpqc_dialects, string_literal_problem
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

    def register_all_targets(self) -> None:
        self.available_targets = {"mlir": self._mlir_target()}

    @staticmethod
    def _mlir_target():
        from xdsl.universe import Universe

        return Universe.get_multiverse().all_targets["mlir"]

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.add_argument("--weights", default=None, help=".npz weight store for dense_resource references")

    def get_input_stream(self) -> tuple[IO[bytes], str]:
        """The input as MLIR whatever its file name says; a file that is not UTF-8 text is refused."""
        if self.args.input_file is None:
            return sys.stdin.buffer, "mlir"
        path = Path(self.args.input_file)
        if not path.exists():
            raise FpqcError(f"{path}: no such file")
        if not path.is_file():
            raise FpqcError(f"{path}: is a directory, not an MLIR file")
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FpqcError(f"{path}: not an MLIR text file (byte {e.start} is not UTF-8)") from None
        if (problem := string_literal_problem(text)) is not None:
            raise FpqcError(f"{path}: {problem}")
        return BytesIO(data), "mlir"

    def prepare_output(self) -> IO[str]:
        try:
            return super().prepare_output()
        except OSError as e:
            raise FpqcError(f"{self.args.output_file}: cannot write the output ({e.strerror})") from None


def _pipeline_error(error: ValueError) -> str:
    """xDSL's pipeline-spec error as one line, e.g. ``unknown pass 'nosuchpass'``."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if text.startswith("Unrecognized passes:"):
        names = text.partition(":")[2].strip().strip("[]")
        return f"unknown pass {names}; passes: {', '.join(sorted(ALL_PASSES))}"
    if (found := re.fullmatch(r"Incompatible types: given \((.*?),?\), expected <class '(\w+)'>", text)) is not None:
        return f"a pass option is {found.group(1)}, where an {found.group(2)} is expected"
    return text


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _passes_option(argv: Sequence[str] | None) -> str:
    """The ``-p``/``--passes`` value of the command line, for the error message."""
    args = list(sys.argv[1:] if argv is None else argv)
    for flag, value in zip(args, [*args[1:], ""]):
        if flag in ("-p", "--passes"):
            return value
        if flag.startswith("--passes="):
            return flag.partition("=")[2]
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fpqc-opt`` on ``argv`` (default: the command line); the exit status."""

    def body() -> int:
        try:
            tool = FpqcOptMain(description="fpqc modular optimizer driver", args=argv)
        except ValueError as e:  # the pass pipeline: unknown pass, option of the wrong type
            raise FpqcError(f"-p '{_passes_option(argv)}': {_pipeline_error(e)}") from None
        try:
            store = WeightStore.load(Path(tool.args.weights)) if tool.args.weights else None
            if store is None:
                tool.run()
            else:
                with store.activate():
                    tool.run()
        except (ParseError, VerifyException, DiagnosticException) as e:
            raise FpqcError(str(e).strip()) from None
        except (ValueError, OverflowError) as e:  # xDSL's parser: integers out of range, bad literals
            raise FpqcError(f"{tool.get_input_name()}: {_first_line(e)}") from None
        except RecursionError:
            raise FpqcError(f"{tool.get_input_name()}: nested too deeply to parse or transform") from None
        except MemoryError:
            raise FpqcError(f"{tool.get_input_name()}: a value too large for this machine's memory") from None
        return 0

    return run_reporting_errors(body)


if __name__ == "__main__":
    sys.exit(main())
