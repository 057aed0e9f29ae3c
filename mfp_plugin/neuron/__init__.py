"""Neuron modules: thin, stateful wrappers around :mod:`mfp_plugin.functional`."""
from .base import MFPNeuronBase
from .mf_node import MFNode
from .qlif_node import QLIFNode

__all__ = ["MFNode", "QLIFNode", "MFPNeuronBase"]
