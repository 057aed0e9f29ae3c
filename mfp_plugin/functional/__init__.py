"""Functional core of mfp-plugin: pure functions holding all the math.

The modules in :mod:`mfp_plugin.neuron` are thin wrappers around these.
"""
from .checks import check_membrane_bits
from .membrane import code_range, fire_mask, firing_threshold, membrane_codes, membrane_step, quantize_membrane
from .mf import (
    causal_kernel, exp_kernel, mf_exp_multi_step, mf_exp_single_step, mf_multi_step, mf_potential, mf_window_single_step,
    transient_potential,
)
from .qlif import qlif_multi_step, qlif_single_step
from .window import causal_window
from .surrogate import ATan, CallableSurrogate, FastSigmoid, Sigmoid, Surrogate, resolve_surrogate, spike

__all__ = [
    "ATan", "CallableSurrogate", "FastSigmoid", "Sigmoid", "Surrogate", "causal_kernel", "causal_window", "check_membrane_bits",
    "code_range", "exp_kernel", "fire_mask", "firing_threshold", "membrane_codes", "membrane_step",
    "mf_exp_multi_step", "mf_exp_single_step", "mf_multi_step", "mf_potential", "mf_window_single_step", "qlif_multi_step",
    "qlif_single_step", "quantize_membrane", "resolve_surrogate", "spike", "transient_potential",
]
