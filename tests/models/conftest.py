"""Fixtures of the model tests; the helpers they share live in model_helpers.py."""
import pytest
import torch

from model_helpers import tiny_model_cfg


@pytest.fixture
def build():
    """Build a (tiny by default) model with a fixed seed."""
    from perception.models import build_model

    def _build(cfg=None, seed=0, **overrides):
        torch.manual_seed(seed)
        return build_model(cfg if cfg is not None else tiny_model_cfg(**overrides))
    return _build
