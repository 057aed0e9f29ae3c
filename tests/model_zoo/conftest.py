"""Shared fixtures of the zoo tests."""
import pytest

from model_zoo import registry


@pytest.fixture
def empty_card_store(monkeypatch):
    """Hide the shipped pretrained cards (valid and skipped) while a test registers its own."""
    monkeypatch.setattr(registry, "_pretrained_cfgs", {})
    if hasattr(registry, "_invalid_cfgs"):
        monkeypatch.setattr(registry, "_invalid_cfgs", {})
