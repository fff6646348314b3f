"""bf16 autocast on CPU: one training step matches fp32 within a stated tolerance, with fp32 master
weights, and bf16 inference matches fp32 outputs -- and in both the convolutions did run in bf16
(a hook records their output dtypes), so a no-op autocast cannot pass as a close match."""
import contextlib

import torch
from model_helpers import make_batch, make_sample
from mmengine.optim import OptimWrapper

from perception.engine.precision import CPUAutocastOptimWrapper
from perception.models.precision import autocast
from perception.models import dummy_inputs


@contextlib.contextmanager
def conv_output_dtypes(model):
    """Yields a list that collects the output dtype of every convolution run inside the block."""
    seen = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
             for m in model.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    try:
        yield seen
    finally:
        for h in hooks:
            h.remove()


def _step(model, batch, wrapper):
    data = model.data_preprocessor(batch, True)
    bf16 = isinstance(wrapper, CPUAutocastOptimWrapper)
    with wrapper.optim_context(model), conv_output_dtypes(model) as dtypes:
        assert torch.is_autocast_enabled('cpu') == bf16
        if bf16:
            assert torch.get_autocast_dtype('cpu') == torch.bfloat16
        losses = model(data['inputs'], data['data_samples'], mode='loss')
    # every convolution ran in the precision asked for (the network's convs are autocast ops)
    assert dtypes and set(dtypes) == {torch.bfloat16 if bf16 else torch.float32}, set(dtypes)
    total, _ = model.parse_losses(losses)
    wrapper.backward(total)
    return total.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                            if p.grad is not None}


def test_bf16_step_matches_fp32_within_tolerance(build):
    """bf16 keeps 8 bits of mantissa: the stated tolerance is 5 % of the fp32 loss and a gradient
    direction (cosine) above 0.9 for the whole model."""
    batch = make_batch([make_sample(seed=i) for i in range(2)])
    ref_model = build().train()
    bf_model = build().train()
    bf_model.load_state_dict(ref_model.state_dict())
    loss32, g32 = _step(ref_model, batch, OptimWrapper(torch.optim.SGD(ref_model.parameters(), 0.1)))
    loss16, g16 = _step(bf_model, batch,
                        CPUAutocastOptimWrapper(torch.optim.SGD(bf_model.parameters(), 0.1)))
    assert torch.isfinite(loss16) and abs(float(loss16 - loss32)) <= 0.05 * abs(float(loss32))
    a = torch.cat([g32[n].flatten() for n in g32])
    b = torch.cat([g16[n].flatten() for n in g32])
    assert all(p.dtype == torch.float32 for p in bf_model.parameters())  # fp32 master weights
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.9


def test_bf16_inference_matches_fp32(build):
    """Stated tolerance: depth within 5 % relative, det scores within 0.05, segmentation labels
    agree on >= 97 % of pixels (logits differ by bf16 rounding)."""
    model = build().eval()
    inputs = dummy_inputs(64, 64, batch=2, seed=4)
    with torch.no_grad():
        ref = model.forward_export(*inputs)
        with autocast('bf16'), conv_output_dtypes(model) as dtypes:
            assert torch.is_autocast_enabled('cpu')
            assert torch.get_autocast_dtype('cpu') == torch.bfloat16
            low = model.forward_export(*inputs)
    assert dtypes and set(dtypes) == {torch.bfloat16}, set(dtypes)
    assert low['seg_logits'].dtype == torch.bfloat16
    agree = (ref['seg_logits'].argmax(1) == low['seg_logits'].float().argmax(1)).float().mean()
    assert agree >= 0.97
    rel = ((low['depth_pred'].float() - ref['depth_pred']).abs() / ref['depth_pred']).max()
    assert rel <= 0.05
    assert (low['det_scores'].float() - ref['det_scores']).abs().max() <= 0.05
