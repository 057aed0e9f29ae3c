"""The ``mfp`` command line (also ``python -m mfp_plugin``).

  mfp eval MODEL [--pretrained|--no-pretrained|--checkpoint PATH] [--data fmnist-bundled|fmnist|cifar10|...]
  mfp train MODEL --data fmnist --epochs N --output DIR [--resume] ...
  mfp zoo list [PATTERN] [--pretrained]
  mfp zoo info NAME

Run ``mfp COMMAND --help`` for the options of each command.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from . import evaluate, train, zoo

    try:
        from .. import __version__
    except ImportError:  # pragma: no cover
        __version__ = "unknown"
    p = argparse.ArgumentParser(
        prog="mfp", description="mfp-plugin: memory-free, parallel quantized spiking neural networks "
                                "(MFP-QSNN) - train, evaluate and browse the model zoo.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  mfp zoo list\n"
               "  mfp eval mf_vgg_small --data fmnist-bundled\n"
               "  mfp train mf_vgg_small --data fmnist --epochs 10 --output runs/vgg_small\n"
               "  torchrun --nproc_per_node 2 -m mfp_plugin train mf_vgg_small --output runs/ddp")
    p.add_argument("--version", action="version", version=f"mfp-plugin {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{eval,train,zoo}")
    sub.required = True
    evaluate.add_parser(sub)
    train.add_parser(sub)
    zoo.add_parser(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``mfp``; returns the exit status (errors raise SystemExit with a message)."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `mfp zoo list | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return int(rc or 0)
