"""LibraryModel: SegFormer-B0 (mmseg) and RTMDet-tiny (mmdet) from the libraries' own configs on our
multi-sensor batches -- the input it builds (RGB, or the 5-channel early-fusion stack), a training
step through the library's loss, predictions in the fields and coordinates MultiTaskMetric reads,
tracing for latency, and the errors of a bad config."""
import pytest
import torch
from torch import nn

from perception.benchmark.runners import RTMDET_TINY, SEGFORMER_B0
from perception.contract import IGNORE_INDEX, SENSORS, ConfigError
from perception.models import build_model, dummy_inputs
from perception.models.library_model import (LibraryModel, LibraryNetwork, library_model_config,
                                             widen_first_conv)

from model_helpers import DET_CLASSES, SEG_CLASSES, make_batch, make_sample

KEYS = (*SENSORS, 'modality_mask')


def _build(config, num_classes, sensors=('rgb', ), **kw):
    torch.manual_seed(0)
    model = build_model(dict(type='LibraryModel', config=config, num_classes=num_classes,
                             sensors=sensors, **kw))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def segformer():
    return _build(SEGFORMER_B0, SEG_CLASSES)


@pytest.fixture(scope='module')
def rtmdet_fused():
    return _build(RTMDET_TINY, DET_CLASSES, sensors=SENSORS)


def _first_conv(model):
    return next(m for m in model.model.backbone.modules() if isinstance(m, nn.Conv2d))


def test_library_config_is_the_library_model_from_scratch():
    scope, cfg = library_model_config(RTMDET_TINY)
    text = str(cfg.to_dict())
    assert scope == 'mmdet' and cfg.type == 'RTMDet' and cfg.backbone.type == 'CSPNeXt'
    assert 'data_preprocessor' not in cfg and 'Pretrained' not in text and 'http' not in text
    assert 'SyncBN' not in text and cfg.neck.norm_cfg.type == 'BN'
    scope, cfg = library_model_config(SEGFORMER_B0)
    assert scope == 'mmseg' and cfg.backbone.type == 'MixVisionTransformer'
    assert all(w not in str(cfg.to_dict()) for w in ("Pretrained", "http", "SyncBN"))


def test_model_takes_our_classes_and_sensors(segformer, rtmdet_fused):
    assert segformer.tasks == ('seg', ) and segformer.num_classes == dict(seg=SEG_CLASSES)
    assert segformer.model.decode_head.num_classes == SEG_CLASSES
    assert segformer.model.decode_head.ignore_index == IGNORE_INDEX
    assert _first_conv(segformer).in_channels == 3 and segformer.in_channels == 3
    assert rtmdet_fused.tasks == ('det', ) and rtmdet_fused.num_classes == dict(det=DET_CLASSES)
    assert rtmdet_fused.model.bbox_head.num_classes == DET_CLASSES
    assert rtmdet_fused.sensors == SENSORS and rtmdet_fused.in_channels == 5
    assert _first_conv(rtmdet_fused).in_channels == 5
    # the sensors are taken in contract order whatever order the config lists them in
    assert _build(SEGFORMER_B0, 2, sensors=('depth', 'rgb')).sensors == ('rgb', 'depth')


def test_input_is_rgb_or_the_five_channel_stack_with_absent_sensors_zero(segformer, rtmdet_fused):
    rgb, thermal, depth, mask = dummy_inputs(32, 64, batch=2)
    assert torch.equal(segformer.image(rgb, thermal, depth, mask), rgb)
    stacked = rtmdet_fused.image(rgb, thermal, depth, mask)
    assert stacked.shape == (2, 5, 32, 64)
    assert torch.equal(stacked, torch.cat([rgb, thermal, depth], 1))
    mask[1, 1] = 0                  # thermal absent in sample 1: zero whatever the tensor holds
    thermal[1] = float('nan')
    stacked = rtmdet_fused.image(rgb, thermal, depth, mask)
    assert (stacked[1, 3] == 0).all() and torch.equal(stacked[0, 3:4], thermal[0])


def test_network_outputs_and_trace(segformer, rtmdet_fused):
    inputs = dummy_inputs(64, 96)
    with torch.no_grad():
        logits, = segformer(dict(zip(KEYS, inputs)), mode='tensor')
        assert logits.shape == (1, SEG_CLASSES, 16, 24)          # stride 4
        outs = LibraryNetwork(rtmdet_fused.eval())(*inputs)
    strides = (8, 16, 32)
    assert [o.shape for o in outs] == (
        [(1, DET_CLASSES, 64 // s, 96 // s) for s in strides]
        + [(1, 4, 64 // s, 96 // s) for s in strides])
    traced = torch.jit.trace(LibraryNetwork(segformer.eval()), inputs, check_trace=False)
    torch.testing.assert_close(traced(*inputs)[0], logits)


@pytest.mark.parametrize('config, classes, sensors', [
    (SEGFORMER_B0, SEG_CLASSES, ('rgb', )), (SEGFORMER_B0, SEG_CLASSES, SENSORS),
    (RTMDET_TINY, DET_CLASSES, ('rgb', )), (RTMDET_TINY, DET_CLASSES, SENSORS)],
    ids=['segformer-rgb', 'segformer-5ch', 'rtmdet-rgb', 'rtmdet-5ch'])
def test_training_steps_through_the_library_loss(config, classes, sensors):
    """The library's own loss terms, finite, with gradients reaching every input channel of the
    first convolution (3 for RGB, 5 for the early-fusion stack), and the weights move."""
    model = _build(config, classes, sensors).train()
    batch = make_batch([make_sample(64, 64, seed=i) for i in range(2)])
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = _first_conv(model).weight.detach().clone()
    for _ in range(2):
        losses = model(**model.data_preprocessor(batch, training=True), mode='loss')
        expected = {'decode.loss_ce'} if config == SEGFORMER_B0 else {'loss_cls', 'loss_bbox'}
        assert expected <= set(losses)
        loss, _ = model.parse_losses(losses)
        assert torch.isfinite(loss) and loss > 0
        optim.zero_grad()
        loss.backward()
        grad = _first_conv(model).weight.grad
        assert grad.shape[1] == (3 if sensors == ('rgb', ) else 5)
        assert (grad.abs().sum((0, 2, 3)) > 0).all()
        optim.step()
    assert not torch.equal(_first_conv(model).weight, before)


def test_loss_skips_samples_without_the_task_target(segformer):
    model = segformer.train()
    batch = make_batch([make_sample(64, 64, seg=False), make_sample(64, 64, seed=1)])
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    none = make_batch([make_sample(64, 64, seg=False)])
    losses = model(**model.data_preprocessor(none, True), mode='loss')
    assert set(losses) == {'loss_seg'} and losses['loss_seg'].item() == 0
    losses['loss_seg'].backward()           # connected: every parameter gets a (zero) gradient
    assert all(p.grad is not None for p in model.model.parameters() if p.requires_grad)
    model.zero_grad()
    model.eval()


def test_segmentation_predictions_in_original_coordinates(segformer):
    """A 40x56 frame resized from 80x112 and padded to 64x64 in a batch: labels come back at
    80x112, the batch padding cropped first."""
    samples = [make_sample(40, 56, ori_shape=(80, 112), seed=0), make_sample(64, 64, seed=1)]
    data = segformer.data_preprocessor(make_batch(samples))
    with torch.no_grad():
        out = segformer(**data, mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 80, 112)
    assert out[0].seg_logits.data.shape == (SEG_CLASSES, 80, 112)
    assert out[1].pred_sem_seg.data.shape == (1, 64, 64)
    assert out[1].pred_sem_seg.data.max() < SEG_CLASSES


def test_detection_predictions_rescaled_and_scored_by_the_metric(rtmdet_fused):
    from perception.evaluation import MultiTaskMetric
    samples = [make_sample(64, 96, ori_shape=(128, 192), scale_factor=(0.5, 0.5), seed=0),
               make_sample(64, 96, ori_shape=(128, 192), scale_factor=(0.5, 0.5), seed=1)]
    model = _build(RTMDET_TINY, DET_CLASSES, sensors=SENSORS,
                   test_cfg=dict(score_thr=0.0, max_per_img=7)).eval()
    for conv in model.model.bbox_head.rtm_reg:   # untrained boxes are points: give them a size
        nn.init.constant_(conv.bias, 1.0)
    assert model.model.bbox_head.test_cfg.max_per_img == 7
    assert model.model.bbox_head.test_cfg.nms.type == 'nms'      # the library's, kept
    data = model.data_preprocessor(make_batch(samples))
    with torch.no_grad():
        out = model(**data, mode='predict')
    for sample in out:
        pred = sample.pred_instances
        assert 0 < len(pred.bboxes) <= 7 and pred.bboxes.shape[1] == 4
        assert pred.labels.max() < DET_CLASSES and (pred.scores >= 0).all()
        assert pred.bboxes[:, 2].max() <= 192 and pred.bboxes[:, 3].max() <= 128
    assert out[0].pred_instances.bboxes[:, 2:].max() > 96     # rescaled to the original frame
    metric = MultiTaskMetric(tasks=('det', ), det_classes=[f'c{i}' for i in range(DET_CLASSES)],
                             log_tables=False)
    metric.process([], [s.to_dict() for s in out])
    result = metric.compute_metrics(metric.results)
    assert 0.0 <= result['det/mAP_50'] <= 1.0


def test_bad_configs_are_named():
    with pytest.raises(ConfigError, match='must name a library config.*mmseg\\|mmdet'):
        LibraryModel(config='segformer/segformer_mit-b0.py', num_classes=3)
    with pytest.raises(ConfigError, match='cannot be read'):
        LibraryModel(config='mmseg::segformer/no_such_config.py', num_classes=3)
    with pytest.raises(ConfigError, match="sensors must be distinct.*'lidar'"):
        LibraryModel(config=SEGFORMER_B0, num_classes=3, sensors=('rgb', 'lidar'))
    with pytest.raises(ConfigError, match='no Conv2d'):
        widen_first_conv(nn.Sequential(nn.Linear(3, 3)), 5)


@pytest.mark.parametrize('config', ['configs/rgbt_det/rtmdet_tiny_rgbt_mixed.py',
                                    'configs/rgbt_det/rtmdet_tiny_rgb_mixed.py'])
def test_rtmdet_peer_ema_averages_over_a_small_share_of_its_run(config):
    """RTMDet's EMA (momentum 0.0002 over ~138k iterations) scaled to the peer's run: averaged over
    a few percent of the iterations, as in mmdet. Unscaled, it spanned ~5,000 iterations of a
    1,200-iteration run, and the evaluated (averaged) weights scored person AP@50 0.000."""
    import math

    from perception.models import load_config
    cfg = load_config(config)
    iters = int(cfg.train_cfg.max_iters)
    ema = next(h for h in cfg.custom_hooks if h['type'] == 'EMAHook')
    span = 1 / ema['momentum']                           # iterations an update's weight lasts
    assert span <= 0.1 * iters, (span, iters)
    # the warm-up of the momentum (exp(-(1 + steps) / gamma)) is over well before the run ends
    assert math.exp(-(1 + 0.1 * iters) / ema['gamma']) < 0.01
