"""``mfp report``: the deployment report of a model on a dataset (the command is :mod:`mfp_plugin.cli.report`).

``add_arguments(parser)`` fills an ``argparse`` (sub)parser; ``run(args, model)`` measures and prints.
Nothing here imports ``mfp_plugin.cli``.

    mfp report mf_vgg_small.fmnist_w2_m2 --data fmnist-bundled --json rep.json --plot rep.png
    mfp report mf_vgg_small --checkpoint runs/x/best.safetensors --data fmnist-bundled
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from .compiler import DEFAULT_INPUT_BITS, DEFAULT_INPUT_FRAC_BITS
    from .energy import E_AC_PJ, E_MAC_PJ

    parser.add_argument("model", help="zoo name: NAME (pretrained default tag), NAME.TAG, or the architecture "
                                      "for --checkpoint")
    parser.add_argument("--checkpoint", "--ckpt", metavar="PATH", default=None,
                        help="weights to load into the architecture (.safetensors, or a .pt with a state dict)")
    parser.add_argument("--data", default="fmnist-bundled", help="dataset name for mfp_plugin.data.get_dataset "
                                                                 "(default: fmnist-bundled, no download)")
    parser.add_argument("--data-root", default=None, help="dataset root (datasets that need files)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--input-frac-bits", type=int, default=DEFAULT_INPUT_FRAC_BITS,
                        help="fraction bits of the fixed-point input (default %(default)s)")
    parser.add_argument("--input-bits", type=int, default=DEFAULT_INPUT_BITS,
                        help="total bits of the fixed-point input (default %(default)s)")
    parser.add_argument("--e-ac", type=float, default=E_AC_PJ, help="pJ per accumulate (default %(default)s)")
    parser.add_argument("--e-mac", type=float, default=E_MAC_PJ, help="pJ per MAC (default %(default)s)")
    parser.add_argument("--qlif-bits", type=int, default=None,
                        help="membrane bits of the QLIF comparison (default: the model's membrane_bits, else 2)")
    parser.add_argument("--json", metavar="OUT", default=None, help="write the report as JSON")
    parser.add_argument("--plot", metavar="OUT.png", default=None, help="write the figure")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return parser


def run(args: argparse.Namespace, model) -> int:
    """Measure ``model`` on ``args.data``, print the table; write ``--json`` / ``--plot``.

    The command line (:mod:`mfp_plugin.cli.report`) builds ``model`` from ``args`` as ``mfp eval``
    does and turns the errors raised here into one ``error:`` line.
    """
    from ..data import get_dataset
    from .plot import plot_report
    from .report import format_table, report

    data = get_dataset(args.data, "test", args.data_root, cfg=getattr(model, "pretrained_cfg", None))
    rep = report(model.eval(), data, batch_size=args.batch_size, limit=args.limit, e_ac=args.e_ac,
                 e_mac=args.e_mac, qlif_bits=args.qlif_bits, progress=not args.no_progress, name=args.model,
                 input_frac_bits=args.input_frac_bits, input_bits=args.input_bits)
    print(format_table(rep))
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=2))
        print(f"wrote {args.json}")
    if args.plot:
        plot_report(rep, args.plot)
        print(f"wrote {args.plot}")
    return 0
