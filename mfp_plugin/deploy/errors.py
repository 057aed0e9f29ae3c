"""The error raised for a model the integer engine cannot compile."""
from __future__ import annotations

__all__ = ["UnsupportedLayerError"]


class UnsupportedLayerError(TypeError):
    """A layer (named in the message) has no integer-only form in :mod:`mfp_plugin.deploy`.

    A ``TypeError`` subclass: the model's *structure or module types* are the
    problem (a float-weight conv, a ``QLIFNode``, a residual block ...), not a
    value. Bad values (input shape, bit widths) raise ``ValueError``.
    """

    def __init__(self, name: str, module, why: str) -> None:
        self.layer_name = name
        self.module_type = type(module).__name__ if module is not None else None
        where = f"layer {name!r}" if name else "model"
        kind = f" ({self.module_type})" if self.module_type else ""
        super().__init__(f"deploy.compile: {where}{kind}: {why}")
