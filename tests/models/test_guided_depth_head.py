"""GuidedDepthHead: starts from the depth input, answers without it, keeps cm precision under bf16,
trains every parameter, traces to a static graph, and an absent sensor still has no influence."""
import pytest
import torch

from perception.models import dummy_inputs

from model_helpers import initialised_model, make_batch, make_sample, tiny_model_cfg

GUIDED = dict(type='GuidedDepthHead', channels=16, guide_channels=4, fine_channels=8,
              losses=[dict(type='DepthL1Loss')])


def _cfg(**overrides):
    cfg = tiny_model_cfg(**overrides)
    cfg['heads']['depth'] = dict(GUIDED)
    return cfg


@pytest.fixture(scope='module')
def model():
    return initialised_model(_cfg())


def _inputs(h=64, w=96, mask=(True, True, True), seed=0):
    rgb, thermal, depth, mask_t = dummy_inputs(h, w, batch=2, mask=mask, seed=seed)
    metres = torch.rand(2, 1, h, w, generator=torch.Generator().manual_seed(seed)) * 3 + 0.5
    metres[:, :, :5, :7] = 0   # a hole
    depth = metres / 10.0 if mask[2] else torch.zeros_like(depth)   # contract normalisation
    return (rgb, thermal, depth, mask_t), metres


def test_untrained_head_returns_its_depth_input(model):
    args, metres = _inputs()
    with torch.no_grad():
        out = model.forward_export(*args)['depth_pred']
    assert out.shape == metres.shape and out.dtype == torch.float32
    valid = metres > 0
    torch.testing.assert_close(out[valid], metres[valid], atol=1e-6, rtol=0)
    assert (out[~valid] > 0).all()   # holes get the coarse estimate, never 0


def test_bf16_autocast_keeps_the_sum_in_fp32(model):
    """bf16 rounds 3 m to 1.6 cm steps; the head's input path must not."""
    args, metres = _inputs()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        out = model.forward_export(*args)['depth_pred']
    assert out.dtype == torch.float32
    valid = metres > 0
    assert (out[valid] - metres[valid]).abs().max() < 1e-5


def test_without_depth_the_answer_is_monocular_and_ignores_the_depth_tensor(model):
    args, _ = _inputs(mask=(True, True, False))
    changed = list(args)
    changed[2] = torch.randn_like(args[2]) * 50
    with torch.no_grad():
        a = model.forward_export(*args)['depth_pred']
        b = model.forward_export(*changed)['depth_pred']
    assert (a > 0).all() and torch.equal(a, b)


def test_every_parameter_trains():
    """The zero-initialised last layers pass no gradient back at the first step; after one
    update every parameter gets one."""
    from perception.models import build_model
    torch.manual_seed(0)
    model = build_model(_cfg(tasks=('depth', ))).train()
    samples = [make_sample(seg=False, det=False, seed=i) for i in range(2)]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        data = model.data_preprocessor(make_batch(samples), True)
        losses = model(data['inputs'], data['data_samples'], mode='loss')
        opt.zero_grad()
        model.parse_losses(losses)[0].backward()
        opt.step()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    dead = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not dead


class _Depth(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, rgb, thermal, depth, modality_mask):
        return self.model.forward_export(rgb, thermal, depth, modality_mask)['depth_pred']


def test_trace_bakes_in_no_data_dependent_branch(model):
    """The valid/absent selection is tensor arithmetic: a graph traced with depth present answers
    like the model on frames without depth (what the ONNX export relies on)."""
    args, _ = _inputs()
    wrapper = _Depth(model).eval()
    with torch.no_grad():
        traced = torch.jit.trace(wrapper, args, strict=False, check_trace=False)
        other, _ = _inputs(mask=(True, False, False), seed=3)
        torch.testing.assert_close(traced(*other), wrapper(*other))
        torch.testing.assert_close(traced(*args), wrapper(*args))
