"""Re-parameterisation: RepConv branches collapse into one conv, the whole model fuses without
changing any output (every task, every sensor subset), and nothing of training is left."""
import itertools

import pytest
import torch
from torch import nn

from perception.contract import SENSORS
from perception.models import build_model, dummy_inputs
from perception.models.layers import RepConv, is_reparameterized, reparameterize

SUBSETS = [m for m in itertools.product([True, False], repeat=3) if any(m)]


def _randomise_bn(module: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine terms, as after training."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.2)


@pytest.mark.parametrize('cin,cout,stride,groups', [(8, 8, 1, 1), (8, 16, 1, 1), (8, 8, 2, 1),
                                                     (12, 12, 1, 3), (12, 24, 2, 3)])
def test_repconv_collapses_to_one_conv(cin, cout, stride, groups):
    torch.manual_seed(0)
    block = RepConv(cin, cout, stride=stride, groups=groups)
    _randomise_bn(block)
    block.eval()
    x = torch.randn(2, cin, 15, 17)
    with torch.no_grad():
        before = block(x)
        block.reparameterize()
        after = block(x)
    assert before.shape == after.shape == (2, cout, (15 + 2 - 3) // stride + 1,
                                           (17 + 2 - 3) // stride + 1)
    assert (before - after).abs().max() <= 1e-5
    assert not any(isinstance(m, nn.BatchNorm2d) for m in block.modules())
    assert [type(m) for m in block.children()] == [nn.ReLU, nn.Conv2d]  # act, fused


def test_repconv_identity_branch_only_where_shapes_allow():
    assert RepConv(8, 8).bn_id is not None
    assert RepConv(8, 16).bn_id is None and RepConv(8, 8, stride=2).bn_id is None
    assert RepConv(8, 8, identity=False).bn_id is None
    with pytest.raises(ValueError, match='groups'):
        RepConv(8, 10, groups=3)


NANO = 'configs/_base_/models/nano.py'


@pytest.fixture(scope='module')
def nano_pair():
    """The shipped nano architecture (trained-like BN statistics) and its fused copy."""
    import copy
    torch.manual_seed(0)
    model = build_model(NANO).eval()
    _randomise_bn(model, seed=1)
    fused = reparameterize(copy.deepcopy(model))
    return model, fused


@pytest.mark.parametrize('mask', SUBSETS, ids=lambda m: '+'.join(s for s, p in zip(SENSORS, m)
                                                                 if p))
def test_model_outputs_unchanged_by_reparameterize(nano_pair, mask):
    model, fused = nano_pair
    inputs = dummy_inputs(64, 96, batch=2, mask=mask, seed=3)
    with torch.no_grad():
        a, b = model.forward_export(*inputs), fused.forward_export(*inputs)
    assert set(a) == set(b) == {'seg_logits', 'det_boxes', 'det_scores', 'depth_pred'}
    for key in a:
        assert (a[key] - b[key]).abs().max() <= 1e-4, key


def test_reparameterized_model_has_no_branch_and_no_batchnorm(nano_pair):
    model, fused = nano_pair
    assert not is_reparameterized(model) and is_reparameterized(fused)
    assert not any(isinstance(m, RepConv) and m.fused is None for m in fused.modules())
    # the branches are gone: fewer parameters, one conv per RepConv
    assert sum(p.numel() for p in fused.parameters()) < sum(p.numel() for p in model.parameters())


def test_strided_repconv_trains_in_channels_last():
    """A strided 1x1 conv with 3 input channels aborts the process in PyTorch 2.13's channels_last
    backward (heap corruption); RepConv applies it as a 1x1 conv on the strided input instead."""
    block = RepConv(3, 16, stride=2).train().to(memory_format=torch.channels_last)
    x = torch.randn(8, 3, 64, 80).to(memory_format=torch.channels_last).requires_grad_()
    for _ in range(2):
        block(x).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(block.conv1.weight.grad).all()
    assert block(x).shape == (8, 16, 32, 40)
