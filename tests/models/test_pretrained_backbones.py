"""Starting from the backbones users have: a 3-channel checkpoint loaded into a 1-channel sensor
encoder adapts its first layer (the filters summed over the colour channels) instead of leaving it
random -- mmseg's MiT of the base config and the package's own nano encoder, through the config's
``init_cfg`` -- and any timm model serves as a sensor's encoder. Every checkpoint is written by the
test; nothing downloads."""
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from perception.contract import SENSORS
from perception.models import build_model, build_module, dummy_inputs, load_config
from perception.models.encoders import RepNet, adapt_input_conv, input_adaptation, timm_encoder
from perception.models.encoders.timm_encoder import TimmEncoder, import_timm

BASE_CONFIG = 'configs/_base_/models/base.py'
NANO_CONFIG = 'configs/_base_/models/nano.py'
TIMM_CONFIG = 'configs/timm/nano_timm_mobilenetv3_rgbt.py'
MIT_FIRST = ('layers.0.0.projection.weight', )
REPNET_FIRST = ('stem.conv3.weight', 'stem.conv1.weight')   # both stem branches read the sensor

try:
    import_timm()
    TIMM_MISSING = ''
except ImportError as err:
    TIMM_MISSING = str(err)
needs_timm = pytest.mark.skipif(bool(TIMM_MISSING), reason=(
    f'{TIMM_MISSING} [next to a CPU-only torch, PyPI\'s Linux torchvision (which timm imports) '
    'does not import: it links libc10_cuda.so]'))


def randomised(module: torch.nn.Module, seed: int = 0) -> dict:
    """``module``'s state dict with every float tensor drawn at random (BN statistics included),
    so that a weight loaded from it cannot match by accident."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) if v.is_floating_point() else v
            for k, v in module.state_dict().items()}


def assert_loaded(backbone: torch.nn.Module, saved: dict, first_layer=()) -> None:
    """Every weight of ``backbone`` is the saved one; those of ``first_layer`` the saved filters
    summed over their input channels."""
    own = backbone.state_dict()
    assert set(own) == set(saved)
    for key, value in saved.items():
        expected = value.sum(1, keepdim=True) if key in first_layer else value
        assert torch.equal(own[key], expected), key


@pytest.fixture
def logged(monkeypatch):
    """The lines the pretrained-weight loaders log."""
    lines = []
    for module in (input_adaptation, timm_encoder):
        monkeypatch.setattr(module, 'print_log', lambda msg, **kw: lines.append(msg))
    return lines


# --- the rule -------------------------------------------------------------------------------------
WEIGHT = torch.randn(8, 3, 5, 5, generator=torch.Generator().manual_seed(0))


def response_to_an_image_equal_on_every_channel(weight, image):
    return F.conv2d(image.expand(-1, weight.shape[1], -1, -1), weight)


@pytest.mark.parametrize('in_channels', [1, 2, 4, 5, 6])
def test_adapted_filters_answer_an_image_equal_on_every_channel_as_the_pretrained_ones(
        in_channels):
    image = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    adapted = adapt_input_conv(WEIGHT, in_channels)
    assert adapted.shape == (8, in_channels, 5, 5) and adapted.dtype == WEIGHT.dtype
    torch.testing.assert_close(response_to_an_image_equal_on_every_channel(adapted, image),
                               response_to_an_image_equal_on_every_channel(WEIGHT, image),
                               rtol=1e-5, atol=1e-4)   # sums of 75-150 products: float rounding


def test_one_channel_is_the_sum_over_the_colour_channels():
    assert torch.equal(adapt_input_conv(WEIGHT, 1), WEIGHT.sum(1, keepdim=True))
    half = adapt_input_conv(WEIGHT.half(), 1)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), WEIGHT.half().float().sum(1, keepdim=True),
                               atol=1e-2, rtol=1e-3)


@pytest.mark.parametrize('in_channels', [2, 4, 5, 6])
def test_more_channels_repeat_the_filters_and_rescale_them(in_channels):
    """The colour filters repeat over the channels (their differences kept, scaled by 3/n); for a
    multiple of 3 that is timm's rule exactly (repeat, times 3/n)."""
    adapted = adapt_input_conv(WEIGHT, in_channels)
    scale = 3 / in_channels
    for i in range(in_channels):
        for j in range(i):
            torch.testing.assert_close(adapted[:, i] - adapted[:, j],
                                       scale * (WEIGHT[:, i % 3] - WEIGHT[:, j % 3]))
    if in_channels % 3 == 0:
        torch.testing.assert_close(adapted, WEIGHT.repeat(1, in_channels // 3, 1, 1) * scale)


def test_same_count_is_unchanged_and_one_channel_filters_spread_over_three():
    assert torch.equal(adapt_input_conv(WEIGHT, 3), WEIGHT)
    thermal = WEIGHT[:, :1]
    torch.testing.assert_close(adapt_input_conv(thermal, 3), (thermal / 3).expand(-1, 3, -1, -1))


@pytest.mark.parametrize('weight, in_channels, match', [
    (torch.zeros(8, 3), 1, r'conv weight \(out, in, kh, kw\); got shape \(8, 3\)'),
    (torch.zeros(8, 3, 3, 3, 3), 1, 'conv weight'),
    (torch.zeros(8, 0, 3, 3), 1, r'got shape \(8, 0, 3, 3\)'),
    (WEIGHT, 0, 'positive int, got 0'),
    (WEIGHT, 1.5, 'positive int, got 1.5'),
    (WEIGHT, True, 'positive int, got True'),
])
def test_nonsense_is_refused(weight, in_channels, match):
    with pytest.raises(ValueError, match=match):
        adapt_input_conv(weight, in_channels)


# --- through the config's init_cfg ----------------------------------------------------------------
def test_mit_b0_checkpoint_into_the_thermal_and_depth_encoders_of_the_base_config(tmp_path,
                                                                                   logged):
    """configs/_base_/models/base.py with ``init_cfg=dict(type='Pretrained', ...)`` on its 1-channel
    MiT-B0 encoders and a 3-channel MiT-B0 checkpoint: the first patch embedding is the
    channel-sum of the saved filters, every other weight the saved one, and the log says so."""
    cfg = load_config(BASE_CONFIG)
    saved = randomised(build_module(dict(cfg.model.encoder.backbone, in_channels=3)))
    checkpoint = tmp_path / 'mit_b0.pth'
    torch.save(saved, checkpoint)
    pretrained = dict(init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)))
    cfg.model.encoder.sensor_overrides.update(thermal=pretrained, depth=pretrained)
    encoder = build_model(cfg.model.encoder)
    encoder.init_weights()
    for sensor in ('thermal', 'depth'):
        assert_loaded(encoder.backbones[sensor], saved, MIT_FIRST)
    adapted = [line for line in logged if 'adapted' in line]
    assert adapted == [f'{checkpoint}: input layer {MIT_FIRST[0]} adapted from 3 to 1 channel(s): '
                       'the pretrained filters summed over their 3 input channels'] * 2


@pytest.mark.parametrize('prefix', [None, 'encoder.backbones.rgb.'],
                         ids=['backbone checkpoint', 'RGB encoder of a model checkpoint'])
def test_nano_encoder_three_channel_checkpoint_into_thermal_and_depth(tmp_path, logged, prefix):
    """configs/_base_/models/nano.py (RepNet per sensor): a 3-channel RepNet checkpoint -- a
    backbone's, or the RGB encoder inside a whole model's (``prefix``) -- loads into the RGB
    encoder unchanged and into the thermal and depth encoders with both stem branches adapted."""
    saved = randomised(RepNet(arch='nano', in_channels=3))
    checkpoint = tmp_path / 'repnet_nano.pth'
    torch.save({'state_dict': {(prefix or '') + k: v for k, v in saved.items()}}, checkpoint)
    init_cfg = dict(type='Pretrained', checkpoint=str(checkpoint), prefix=prefix)
    cfg = load_config(NANO_CONFIG)
    cfg.model.encoder.backbone.init_cfg = init_cfg
    cfg.model.encoder.sensor_overrides = dict(thermal=dict(arch='nano'), depth=dict(arch='nano'))
    encoder = build_model(cfg.model.encoder)
    encoder.init_weights()
    assert_loaded(encoder.backbones['rgb'], saved)
    for sensor in ('thermal', 'depth'):
        assert_loaded(encoder.backbones[sensor], saved, REPNET_FIRST)
    assert sum(', '.join(REPNET_FIRST) in line and 'from 3 to 1' in line for line in logged) == 2


# --- timm -----------------------------------------------------------------------------------------
def test_without_timm_a_timm_config_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, 'timm', None)     # ``import timm`` fails as where it is absent
    with pytest.raises(ImportError, match=r'TimmEncoder needs timm.*`pip install timm`, with a '
                                          r'torchvision built for the installed torch'):
        build_model(TIMM_CONFIG)


@needs_timm
@pytest.mark.parametrize('name', ['resnet18', 'mobilenetv3_small_050'])
@pytest.mark.parametrize('in_channels', [1, 3])
def test_timm_encoder_returns_the_maps_it_declares(name, in_channels):
    encoder = TimmEncoder(name, in_channels=in_channels).eval()
    with torch.no_grad():
        maps = encoder(torch.randn(1, in_channels, 64, 96))
    assert encoder.strides == (4, 8, 16, 32)
    assert [tuple(m.shape[-2:]) for m in maps] == [(64 // s, 96 // s) for s in encoder.strides]
    assert tuple(m.shape[1] for m in maps) == encoder.out_channels


@needs_timm
def test_timm_encoder_per_sensor_in_the_multi_sensor_encoder():
    encoder = build_model(dict(type='MultiSensorEncoder', backbone=dict(
        type='TimmEncoder', model_name='mobilenetv3_small_050')))
    assert {s: encoder.backbones[s].in_channels for s in SENSORS} == dict(rgb=3, thermal=1, depth=1)
    assert encoder.out_channels == {s: encoder.backbones[s].out_channels for s in SENSORS}


@needs_timm
def test_timm_checkpoint_loads_when_training_starts_with_the_first_layer_adapted(tmp_path,
                                                                                 logged):
    """Building reads no file (export and inference of a trained model need none); init_weights
    reads it through timm, which sums the first layer's filters for a 1-channel sensor."""
    timm = import_timm()
    saved = randomised(timm.create_model('resnet18'))
    checkpoint = tmp_path / 'resnet18.pth'
    torch.save(saved, checkpoint)
    missing = TimmEncoder('resnet18', in_channels=1, checkpoint=str(tmp_path / 'absent.pth'))
    with pytest.raises(FileNotFoundError, match='absent.pth not found'):
        missing.init_weights()
    encoder = TimmEncoder('resnet18', in_channels=1, checkpoint=str(checkpoint))
    encoder.init_weights()
    features = {k: v for k, v in saved.items() if not k.startswith('fc.')}   # no classifier
    assert_loaded(encoder.model, features, ('conv1.weight', ))
    assert logged == [f'TimmEncoder resnet18: weights from {checkpoint}; input layer conv1 adapted '
                      'by timm from 3 to 1 channel(s): the pretrained filters summed over their 3 '
                      'input channels']


@needs_timm
def test_timm_model_without_the_strides_is_refused():
    with pytest.raises(ValueError, match=r"'vit_tiny_patch16_224' gives feature maps at strides "
                                         r'\[16, 16, 16\], none at \[4, 8, 32\]'):
        TimmEncoder('vit_tiny_patch16_224')
    with pytest.raises(ValueError, match='not both'):
        TimmEncoder('resnet18', checkpoint='x.pth', pretrained=True)


@needs_timm
def test_timm_config_ignores_absent_sensors_in_pytorch_and_in_its_onnx_export(tmp_path):
    """The timm config (a small MobileNetV3 in place of its large one): for every subset of its
    sensors, junk in an absent one changes no output and junk in a present one does -- in PyTorch,
    and in the graph the package's exporter writes (parity checked)."""
    import onnxruntime as ort

    from perception.apis.config_spec import make_spec
    from perception.apis.preprocess import preprocess
    from perception.contract import sensor_subsets
    from perception.deploy.frames import synthetic_frames
    from perception.deploy.onnx_export import ExportOptions, export_onnx
    size = (64, 96)
    cfg = load_config(TIMM_CONFIG, {'model.encoder.backbone.model_name': 'mobilenetv3_small_050'})
    torch.manual_seed(0)
    model = build_model(cfg)
    sensors = model.sensors
    rng = np.random.default_rng(0)
    for subset in sensor_subsets(sensors):
        mask = [s in subset for s in sensors]
        clean = dummy_inputs(*size, mask=mask, seed=1, sensors=sensors)
        junk = [torch.randn_like(x) * 50 if i < len(sensors) and not mask[i] else x
                for i, x in enumerate(clean)]
        moved = [torch.randn_like(x) * 5 if i == mask.index(True) else x
                 for i, x in enumerate(clean)]
        with torch.no_grad():
            a, b, c = (model.forward_export(*args) for args in (clean, junk, moved))
        assert all((a[k] - b[k]).abs().max() <= 1e-6 for k in a), subset
        assert any((a[k] - c[k]).abs().max() > 1e-4 for k in a), subset

    result = export_onnx(model, tmp_path / 'timm.onnx', make_spec(model, cfg, size),
                         ExportOptions(input_size=size, nms='host', parity_synthetic=1))
    assert result.parity[0].passed and result.spec.sensors == sensors
    session = ort.InferenceSession(str(result.path), providers=['CPUExecutionProvider'])
    frame = next(f for f in synthetic_frames(8, size, seed=4)
                 if all(v is not None for v in f.sensors().values()))
    for subset in sensor_subsets(sensors):
        inputs, _ = preprocess(result.spec, **{s: frame.sensors()[s] for s in subset})
        clean = session.run(None, inputs)
        junk = dict(inputs, **{s: rng.normal(0, 20, inputs[s].shape).astype(np.float32)
                               for s in sensors if s not in subset})
        assert all(np.array_equal(x, y) for x, y in zip(clean, session.run(None, junk))), subset
        moved = dict(inputs, **{subset[0]: rng.normal(0, 2, inputs[subset[0]].shape)
                                .astype(np.float32)})
        assert any(not np.array_equal(x, y) for x, y in zip(clean, session.run(None, moved)))
