"""Host-library integration: swapping, registering, resetting."""
from .register import register
from .reset import reset_states
from .swap import default_swappable, swap_neurons

__all__ = ["default_swappable", "register", "reset_states", "swap_neurons"]
