"""The model options as command-line flags, shared by ``mfp train``/``mfp eval`` and ``bench/``.

Each type function turns one flag's text into the value
:func:`~mfp_plugin.engine.model_overrides` reads, or rejects it with a message
naming what was expected (argparse prints it as a usage error).

>>> bits_option("fp"), bits_option("binary"), bits_option("2"), bits_option("ternary")
('fp', 1, 2, 'ternary')
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: expected an int >= 1, got '0'
"""
from __future__ import annotations

import argparse
import json

from ..quant import normalize_bits
from .overrides import NEURONS

__all__ = ["bits_option", "positive_int", "non_negative_int", "membrane_bits_option", "tau_option",
           "model_kwarg_option", "add_model_options", "add_malloc_option"]

_BITS_EXPECTED = "expected an int >= 1, 'ternary' or 'fp' (1 = binary, 2..8 = LSQ, 32 or 'fp' = float)"


def bits_option(text: str):
    """``--weight-bits``/``--first-last-bits``: 1 (binary), 2..8, ``ternary``, or ``fp`` for float weights.

    Float comes back as the string ``'fp'`` so that it stays distinct from
    ``None`` (option not given).
    """
    try:
        bits = normalize_bits(str(text))
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"{_BITS_EXPECTED}, got {text!r}") from None
    return "fp" if bits is None else bits


def _int(text: str, low: int, what: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An int >= 1 (time steps, batch sizes, epochs, image counts)."""
    return _int(text, 1, "an int >= 1")


def non_negative_int(text: str) -> int:
    """An int >= 0 (DataLoader workers, warm-up epochs)."""
    return _int(text, 0, "an int >= 0")


def membrane_bits_option(text: str) -> int:
    """``--membrane-bits``: an int >= 2 (a 1-bit membrane grid cannot represent the threshold)."""
    return _int(text, 2, "an int >= 2 (docs/method.md: Q_b needs b >= 2)")


def tau_option(text: str) -> float:
    """``--tau``: the membrane time constant, a number > 1 (decay ``beta = 1 - 1/tau`` in (0, 1)).

    >>> tau_option("4")
    4.0
    """
    try:
        value = float(str(text).strip())
    except ValueError:
        value = None
    if value is None or not value > 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number > 1 (decay beta = 1 - 1/tau), got {text!r}")
    return value


def model_kwarg_option(text: str) -> tuple:
    """``--model-kwargs KEY=VALUE``: one builder keyword; VALUE is JSON when it parses, else a string.

    >>> model_kwarg_option("channels=[32, 64, 64]"), model_kwarg_option("dropout=0.2")
    (('channels', [32, 64, 64]), ('dropout', 0.2))
    >>> model_kwarg_option("norm=batch"), model_kwarg_option("hidden_features=null")
    (('norm', 'batch'), ('hidden_features', None))
    """
    key, sep, value = str(text).partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a Python name (VALUE JSON or text), "
                                         f"got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


class _KeywordsAction(argparse.Action):
    """Collect ``KEY=VALUE`` pairs (``model_kwarg_option``) into one dict; a repeated key is an error."""

    def __call__(self, parser, namespace, values, option_string=None):
        out = dict(getattr(namespace, self.dest, None) or {})
        for key, value in values:
            if key in out:
                parser.error(f"{option_string}: {key} given twice")
            out[key] = value
        setattr(namespace, self.dest, out)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--T``, ``--weight-bits``, ``--first-last-bits``, ``--neuron``, ``--membrane-bits``, ``--tau``,
    ``--learnable-decay``, ``--model-kwargs`` (all default: the model's)."""
    g = p.add_argument_group("model overrides (passed to model_zoo.create_model)")
    g.add_argument("--T", type=positive_int, default=None, help="time steps [default: the model's]")
    g.add_argument("--weight-bits", type=bits_option, default=None,
                   help="weight bits of hidden layers: an int >= 1 (1 = binary), 'ternary', or 'fp' (float)")
    g.add_argument("--first-last-bits", type=bits_option, default=None,
                   help="weight bits of the first and last layer (same choices)")
    g.add_argument("--neuron", choices=sorted(NEURONS), default=None,
                   help="mf=mfp_plugin.MFNode, qlif=mfp_plugin.QLIFNode, lif=SpikingJelly LIFNode, "
                        "plif=SpikingJelly ParametricLIFNode [default: the model's]")
    g.add_argument("--membrane-bits", type=membrane_bits_option, default=None,
                   help="membrane bits for --neuron mf|qlif (QLIF default 2; MF default unquantized)")
    g.add_argument("--tau", type=tau_option, default=None,
                   help="membrane time constant, decay beta = 1 - 1/tau (plif: its initial tau) [the neuron's: 2]")
    g.add_argument("--learnable-decay", action="store_const", const=True, default=None,
                   help="--neuron mf: learn the decay beta of each layer (initialised from --tau)")
    g.add_argument("--model-kwargs", nargs="+", type=model_kwarg_option, action=_KeywordsAction, default=None,
                   metavar="KEY=VALUE",
                   help="other builder arguments, VALUE as JSON (as timm's train.py), e.g. "
                        "--model-kwargs channels=[32,64,64] hidden_features=512")


def add_malloc_option(p: argparse.ArgumentParser) -> None:
    """``--no-malloc-tune`` (see :func:`mfp_plugin.engine.tune_malloc`)."""
    p.add_argument("--no-malloc-tune", action="store_true",
                   help="on CPU, keep glibc's default mmap threshold (by default large freed tensors are "
                        "kept in the heap instead of being unmapped and page-faulted back; "
                        "see mfp_plugin.engine.malloc)")
