"""Layers that are neither neurons nor quantized weight layers."""
from .causal_window import CausalWindow

__all__ = ["CausalWindow"]
