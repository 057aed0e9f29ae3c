"""``mfp report``: integer-engine agreement, SynOps, energy and memory of a model (:mod:`mfp_plugin.deploy`)."""
from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    from ..deploy import report_cli

    p = sub.add_parser(
        "report", help="deployment report: integer engine vs float, SynOps, energy, memory",
        description="Compile a model to the integer engine (mfp_plugin.deploy), run it beside the float "
                    "model on a dataset, and report top-1 of both, per-layer spike agreement and firing "
                    "rates, synaptic operations against the ANN's MACs, energy per image (45 nm "
                    "convention) and memory per schedule. See docs/deployment.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    report_cli.add_arguments(p)
    # the weights are chosen as in `mfp eval`: released weights, or --checkpoint
    p.set_defaults(func=run, pretrained=True)
    return p


def run(args: argparse.Namespace) -> int:
    from ..deploy import report_cli
    from . import checks
    from .evaluate import load_model

    checks.model_name(args.model)
    args.data = checks.dataset_name(args.data)
    model, _ = load_model(args, {})
    return report_cli.run(args, model)
