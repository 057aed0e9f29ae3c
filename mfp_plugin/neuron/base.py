"""A SpikingJelly-compatible base for our neurons, for both SpikingJelly generations.

Our nodes subclass ``spikingjelly.activation_based.base.MemoryModule`` of
whichever SpikingJelly is installed, so ``functional.reset_net``,
``set_step_mode``, ``set_backend`` (0.0.0.0.14) and 2.x's functional forward
(``single_step_functional_forward`` / ``multi_step_functional_forward``) all
see them as native modules. The forward logic itself does not depend on the
generation: both call the same functional core.
"""
from __future__ import annotations

import torch

from .._compat import MemoryModule
from ..functional.checks import check_multi_step, check_single_step, check_step_mode
from ..functional.surrogate import resolve_surrogate


class MFPNeuronBase(MemoryModule):
    """Shared plumbing: step mode, backend, state bookkeeping, potential recording.

    Subclasses implement ``single_step_functional_forward(inputs, states)`` and
    ``multi_step_functional_forward(inputs, states)`` (pure: they return new
    states instead of mutating the module), ``_backends_for(step_mode)`` and
    ``_fresh_states(x, step_mode)``.
    """

    def __init__(self, step_mode: str = "m", backend: str = "torch", store_v_seq: bool = False):
        super().__init__()
        self.step_mode = check_step_mode(step_mode)
        self._backend = "torch"
        self.backend = backend
        self.store_v_seq = store_v_seq

    # --- backend (a property in both generations; 0.0.0.0.14's set_backend reads it) ---
    def _backends_for(self, step_mode: str) -> tuple[str, ...]:
        return ("torch",)

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return self._backends_for(self.step_mode)

    @property
    def backend(self) -> str:
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        if value not in self.supported_backends:
            why = self._backend_refusal(value)
            raise ValueError(
                f"{self._get_name()} supports backend in {self.supported_backends} with step_mode="
                f"{self.step_mode!r}, got {value!r}" + (f": {why}" if why else "")
            )
        self._check_backend_available(value)
        self._backend = value

    def _backend_refusal(self, backend: str) -> str | None:
        """Why this configuration cannot run ``backend`` (for the error message), or None."""
        return None

    def _check_backend_available(self, backend: str) -> None:
        """Raise a clear ImportError when a backend's library or device is missing."""

    @property
    def _surrogate(self):
        # Resolved on use, so assigning ``node.surrogate_function`` later (a SpikingJelly
        # surrogate is an nn.Module and bypasses property setters) always takes effect.
        return resolve_surrogate(self.surrogate_function)

    # --- potential recording, SpikingJelly's ``store_v_seq`` convention ---
    @property
    def store_v_seq(self) -> bool:
        return self._store_v_seq

    @store_v_seq.setter
    def store_v_seq(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"store_v_seq must be a bool, got {value!r}")
        self._store_v_seq = value
        self.v_seq = None
        self.h_seq = None

    def _record(self, v_seq, h_seq, append: bool) -> None:
        if not self.store_v_seq:
            return
        v_seq, h_seq = v_seq.detach(), h_seq.detach()
        if append and self.v_seq is not None and self.v_seq.shape[1:] == v_seq.shape[1:]:
            self.v_seq = torch.cat((self.v_seq, v_seq))
            self.h_seq = torch.cat((self.h_seq, h_seq))
        else:
            self.v_seq, self.h_seq = v_seq, h_seq

    def reset(self):
        super().reset()
        self.v_seq = None
        self.h_seq = None

    # --- forward: one code path for both SpikingJelly generations ---
    def _states(self) -> tuple:
        return tuple(self._memories.values())

    def _store_states(self, states: tuple) -> None:
        for name, value in zip(list(self._memories.keys()), states):
            self._memories[name] = value

    def single_step_forward(self, x: torch.Tensor, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{self._get_name()}.forward takes one tensor, got extra arguments")
        check_single_step(x)
        (spike,), states = self.single_step_functional_forward((x,), self._states())
        self._store_states(states)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{self._get_name()}.forward takes one tensor, got extra arguments")
        check_multi_step(x_seq)
        (spikes,), states = self.multi_step_functional_forward((x_seq,), self._states())
        self._store_states(states)
        return spikes

    def forward(self, x, *args, **kwargs):
        if self.step_mode == "s":
            return self.single_step_forward(x, *args, **kwargs)
        if self.step_mode == "m":
            return self.multi_step_forward(x, *args, **kwargs)
        raise ValueError(f"step_mode must be 's' or 'm', got {self.step_mode!r}")

    # SpikingJelly 2.x calls this before its functional forward; our functional
    # forwards materialize lazily, so the states pass through unchanged.
    def materialize_states(self, inputs, states, step_mode):
        return states

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}, backend={self.backend}"
