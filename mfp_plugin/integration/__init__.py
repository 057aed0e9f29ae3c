"""Host-library integration: swapping, registering, resetting."""
from .backend import set_backend
from .register import register
from .reset import reset_states
from .swap import default_swappable, swap_neurons

__all__ = ["default_swappable", "register", "reset_states", "set_backend", "swap_neurons"]
