"""Depth losses on valid pixels, Dice with ignore, multi-task weighting, and top-k NMS."""
import math

import pytest
import torch

from perception.models import (DepthL1Loss, FixedTaskWeighting, MaskedDiceLoss, SILogLoss,
                               UncertaintyTaskWeighting, topk_nms)

from model_helpers import tiny_model_cfg


def _depth(seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 1, 8, 8, generator=g) * 5 + 1
    target[:, :, :2] = 0  # invalid rows
    return target


def test_silog_zero_for_exact_and_scale_invariant_with_lam_1():
    t = _depth()
    assert float(SILogLoss()(t.clamp_min(0.5), t)) < 0.02
    assert float(SILogLoss(lam=1.0)(2 * t.clamp_min(0.5), t)) < 0.02
    assert float(SILogLoss(lam=0.85)(2 * t.clamp_min(0.5), t)) > 1.0  # metric scale still counts


@pytest.mark.parametrize('loss', [SILogLoss(), DepthL1Loss()])
def test_depth_losses_ignore_invalid_pixels_and_empty_samples(loss):
    t = _depth()
    pred = torch.rand(2, 1, 8, 8) * 5 + 1
    changed = pred.clone()
    changed[:, :, :2] = 100.0  # only where the target is invalid
    assert float(loss(pred, t)) == pytest.approx(float(loss(changed, t)))
    t_empty = t.clone()
    t_empty[1] = 0  # sample 1 has no valid pixel: the loss is sample 0's alone
    assert float(loss(pred, t_empty)) == pytest.approx(float(loss(pred[:1], t[:1])))
    zero = loss(pred.requires_grad_(), torch.zeros_like(t))
    assert float(zero.detach()) == 0.0 and zero.requires_grad


def test_masked_dice_ignores_unlabelled_pixels():
    logits = torch.randn(1, 4, 6, 6)
    target = torch.randint(0, 4, (1, 6, 6))
    target[:, :2] = 255
    changed = logits.clone()
    changed[:, :, :2] = torch.randn(1, 4, 2, 6) * 10
    loss = MaskedDiceLoss()
    assert float(loss(logits, target)) == pytest.approx(float(loss(changed, target)))
    perfect = torch.nn.functional.one_hot(target.clamp(max=3), 4).permute(0, 3, 1, 2) * 50.0
    assert float(loss(perfect, target)) < 1e-3


def test_fixed_and_uncertainty_weighting():
    losses = dict(seg=dict(loss_ce=torch.tensor(2.0), acc_seg=torch.tensor(50.0)),
                  depth=dict(loss_silog=torch.tensor(4.0)))
    has = dict(seg=True, depth=False)
    fixed = FixedTaskWeighting(('seg', 'depth'), weights=dict(depth=0.5))(losses, has)
    assert float(fixed['seg_loss_ce']) == 2.0 and float(fixed['depth_loss_silog']) == 2.0
    assert float(fixed['seg_acc_seg']) == 50.0  # not a loss: logged, not weighted
    unc = UncertaintyTaskWeighting(('seg', 'depth'))
    with torch.no_grad():
        unc.log_vars['seg'].fill_(math.log(2.0))
    out = unc(losses, has)
    assert float(out['seg_loss_ce']) == pytest.approx(1.0)  # exp(-log 2) * 2
    assert float(out['seg_loss_logvar']) == pytest.approx(math.log(2.0))
    assert float(out['depth_loss_logvar']) == 0.0  # no depth target: no push on s_depth
    sum(v for k, v in out.items() if 'loss' in k).backward()
    assert unc.log_vars['seg'].grad is not None
    with pytest.raises(KeyError):
        FixedTaskWeighting(('seg', ), weights=dict(det=1.0))


def test_topk_nms_small_example():
    boxes = torch.tensor([[[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30.]]])
    scores = torch.tensor([[[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.01, 0.3]]])
    b, s, l = topk_nms(boxes, scores, max_det=5, score_thr=0.05, iou_thr=0.5)
    assert b.shape == (1, 5, 4) and s.shape == (1, 5) and l.shape == (1, 5)
    # [1] suppressed by [0] (same class); [2] kept (other class); [3] class 0 below threshold
    assert s[0].tolist() == pytest.approx([0.9, 0.7, 0.3, 0.0, 0.0])
    assert l[0].tolist() == [0, 1, 1, -1, -1]
    assert (b[0, 3:] == 0).all()


def test_topk_nms_matches_mmcv_batched_nms():
    from mmcv.ops import batched_nms
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(1, 300, 2, generator=g) * 100
    wh = torch.rand(1, 300, 2, generator=g) * 30 + 2
    boxes = torch.cat([xy, xy + wh], -1)
    scores = torch.rand(1, 300, 3, generator=g)
    b, s, l = topk_nms(boxes, scores, max_det=50, score_thr=0.3, iou_thr=0.5, pre_nms_topk=10000)
    flat = scores[0].reshape(-1)
    keep = flat > 0.3
    idx = torch.nonzero(keep).squeeze(1)
    dets, kept = batched_nms(boxes[0, idx // 3], flat[idx], idx % 3,
                             dict(type='nms', iou_threshold=0.5))
    ref_scores = dets[:50, 4]
    torch.testing.assert_close(s[0], ref_scores)
    torch.testing.assert_close(b[0], dets[:50, :4])
    assert l[0].tolist() == (idx % 3)[kept[:50]].tolist()


def test_former_detection_setting_names_load_with_a_deprecation_warning():
    """``nms=dict(k, pre_nms_k)`` configs keep working for one release, under the current names."""
    from mmengine.config import Config

    from perception.apis.config_spec import nms_defaults
    from perception.contract import ConfigError, renamed_settings
    old = dict(k=50, score_thr=0.1, iou_thr=0.6, pre_nms_k=500)
    with pytest.warns(DeprecationWarning, match="'k' is deprecated, use 'max_det'"):
        new = renamed_settings(old, 'heads.det.nms')
    assert new == dict(max_det=50, score_thr=0.1, iou_thr=0.6, pre_nms_topk=500)
    cfg = Config(dict(model=dict(heads=dict(det=dict(nms=old)))))
    with pytest.warns(DeprecationWarning, match="'pre_nms_k' is deprecated"):
        assert nms_defaults(cfg) == new
    with pytest.raises(ConfigError, match="both 'k' and 'max_det'"):
        renamed_settings(dict(k=5, max_det=5), 'heads.det.nms')


def test_det_head_reads_former_nms_names(build):
    from perception.contract import ConfigError
    cfg = tiny_model_cfg()
    cfg['heads']['det']['nms'] = dict(k=7, pre_nms_k=70)
    with pytest.warns(DeprecationWarning, match="heads.det.nms: 'k' is deprecated"):
        model = build(cfg)
    assert model.heads['det'].nms == dict(score_thr=0.05, iou_thr=0.6, max_det=7, pre_nms_topk=70)
    cfg['heads']['det']['nms'] = dict(top_k=7)
    with pytest.raises(ConfigError, match="unknown settings \\['top_k'\\]"):
        build(cfg)
