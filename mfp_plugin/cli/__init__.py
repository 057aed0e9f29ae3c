"""The ``mfp`` command line (also ``python -m mfp_plugin``): thin argparse adapters over :mod:`mfp_plugin.engine`.

  mfp eval MODEL [--pretrained|--no-pretrained|--checkpoint PATH] [--data fmnist-bundled|fmnist|cifar10|...]
  mfp train MODEL --data fmnist --epochs N --output DIR [--resume] ...
  mfp report MODEL [--checkpoint PATH] [--data fmnist-bundled] [--json OUT] [--plot OUT.png]
  mfp zoo list [PATTERN] [--pretrained]
  mfp zoo info NAME

Run ``mfp COMMAND --help`` for the options of each command. A failure prints
one ``error: ...`` line and exits with status 2 (bad usage) or 1 (the work
failed); see :mod:`mfp_plugin.cli.errors`.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from .errors import USAGE, CommandError, as_command_error, expected_errors

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error:`` line (no usage block), like every other failure."""

    def error(self, message: str):
        raise CommandError(f"{message} (see `{self.prog} --help`)", USAGE)


def build_parser() -> argparse.ArgumentParser:
    from . import evaluate, report, train, zoo

    try:
        from .. import __version__
    except ImportError:  # pragma: no cover
        __version__ = "unknown"
    p = _Parser(
        prog="mfp", description="mfp-plugin: memory-free, parallel quantized spiking neural networks "
                                "(MFP-QSNN) - train, evaluate and browse the model zoo.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  mfp zoo list\n"
               "  mfp eval mf_vgg_small --data fmnist-bundled\n"
               "  mfp report mf_vgg_small --data fmnist-bundled --json report.json\n"
               "  mfp train mf_vgg_small --data fmnist --epochs 10 --output runs/vgg_small\n"
               "  torchrun --nproc_per_node 2 -m mfp_plugin train mf_vgg_small --output runs/ddp")
    p.add_argument("--version", action="version", version=f"mfp-plugin {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{eval,train,report,zoo}")
    sub.required = True
    evaluate.add_parser(sub)
    train.add_parser(sub)
    report.add_parser(sub)
    zoo.add_parser(sub)
    return p


def _fail(error: CommandError) -> None:
    print(f"error: {error}", file=sys.stderr, flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``mfp``: returns 0, or raises ``SystemExit`` (a :class:`CommandError` after
    printing its one line). Unexpected exceptions are bugs and keep their traceback."""
    try:
        args = build_parser().parse_args(list(argv) if argv is not None else None)
        return int(args.func(args) or 0)
    except CommandError as exc:
        _fail(exc)
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `mfp zoo list | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except expected_errors() as exc:  # what library code raises for bad input or failed I/O; bugs propagate
        error = as_command_error(exc)
        _fail(error)
        raise error from exc
