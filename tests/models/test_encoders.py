"""Encoders: the LiteNet / RepNet pyramids, any registered backbone per sensor, weight sharing,
local pretrained."""
import pytest
import torch

from perception.contract import SENSOR_CHANNELS, SENSORS
from perception.models import LiteNet, MultiSensorEncoder
from perception.models.encoders import RepNet

from model_helpers import TINY_STAGES


def _inputs(b=2, h=64, w=96):
    return {s: torch.randn(b, SENSOR_CHANNELS[s], h, w) for s in SENSORS}


@pytest.mark.parametrize('backbone', [LiteNet, RepNet])
@pytest.mark.parametrize('arch', ['nano', 'pico'])
@pytest.mark.parametrize('in_channels', [1, 3])
def test_backbone_pyramid_and_declared_channels(backbone, arch, in_channels):
    """The package's backbones return strides 4, 8, 16, 32 with the channels they declare."""
    net = backbone(arch=arch, in_channels=in_channels).eval()
    feats = net(torch.randn(1, in_channels, 64, 96))
    assert [tuple(f.shape[-2:]) for f in feats] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    assert tuple(f.shape[1] for f in feats) == net.out_channels


TINY_RESNET = dict(type='mmdet.ResNet', depth=18, base_channels=8, num_stages=4,
                   out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN'), init_cfg=None)
TINY_MIT = dict(type='mmseg.MixVisionTransformer', embed_dims=8, num_stages=4,
                num_layers=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], sr_ratios=[8, 4, 2, 1],
                out_indices=(0, 1, 2, 3))


@pytest.mark.parametrize('backbone, channels', [
    (TINY_RESNET, (8, 16, 32, 64)),
    (TINY_MIT, (8, 8, 16, 16)),
])
def test_openmmlab_backbones_per_sensor(backbone, channels):
    enc = MultiSensorEncoder(backbone=backbone)
    assert enc.out_channels == {s: channels for s in SENSORS}
    for s in SENSORS:  # in_channels was set per sensor
        first = next(p for p in enc.backbones[s].parameters() if p.dim() == 4)
        assert first.shape[1] == SENSOR_CHANNELS[s]
    feats = enc(_inputs())
    for s in SENSORS:
        assert [tuple(f.shape[-2:]) for f in feats[s]] == [(16, 24), (8, 12), (4, 6), (2, 3)]


def test_per_sensor_override_replaces_or_merges():
    enc = MultiSensorEncoder(
        backbone=dict(type='LiteNet', arch='nano'),
        sensor_overrides=dict(thermal=dict(arch='pico'), depth=TINY_RESNET))
    assert enc.out_channels['rgb'] == tuple(LiteNet(arch='nano').out_channels)
    assert enc.out_channels['thermal'] == tuple(LiteNet(arch='pico').out_channels)
    assert type(enc.backbones['depth']).__name__ == 'ResNet'


def test_backbone_with_wrong_pyramid_is_rejected():
    with pytest.raises(ValueError, match='3 feature maps'):
        MultiSensorEncoder(backbone=dict(TINY_RESNET, out_indices=(0, 1, 2)))
    with pytest.raises(KeyError, match='lidar'):
        MultiSensorEncoder(backbone=TINY_RESNET, sensor_overrides=dict(lidar={}))


def test_shared_weights_one_backbone_and_adapters():
    cfg = dict(type='LiteNet', stem_channels=8, stages=TINY_STAGES)
    shared = MultiSensorEncoder(backbone=cfg, share_weights=True)
    separate = MultiSensorEncoder(backbone=cfg)
    assert list(shared.backbones) == ['shared'] and set(shared.adapters) == {'thermal', 'depth'}
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(shared) < n(separate) / 2
    x = _inputs()
    feats = shared.eval()(x)
    # the adapter starts as channel replication: thermal through it == thermal repeated to 3 ch
    alone = shared.backbones['shared'](x['thermal'].repeat(1, 3, 1, 1))
    for a, b in zip(feats['thermal'], alone):
        torch.testing.assert_close(a, b)


def test_pretrained_from_local_path(tmp_path):
    cfg = dict(type='LiteNet', stem_channels=8, stages=TINY_STAGES)
    source = LiteNet(stem_channels=8, stages=TINY_STAGES, in_channels=3)
    for p in source.parameters():
        torch.nn.init.normal_(p)
    ckpt = tmp_path / 'rgb_backbone.pth'
    torch.save({'state_dict': source.state_dict()}, ckpt)
    enc = MultiSensorEncoder(backbone=cfg, sensor_overrides=dict(
        rgb=dict(init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))))
    enc.init_weights()
    for (name, p), q in zip(enc.backbones['rgb'].state_dict().items(),
                            source.state_dict().values()):
        assert torch.equal(p, q), name
    assert not torch.equal(enc.backbones['thermal'].stem.conv.weight[:, :1],
                           source.stem.conv.weight[:, :1])


def test_declared_out_channels_are_read_not_probed(monkeypatch):
    """LiteNet declares its channels: building the encoder runs no image through it. A third-party
    backbone without the declaration (mmdet's ResNet) is still probed once."""
    runs = []
    forward = LiteNet.forward
    monkeypatch.setattr(LiteNet, 'forward', lambda self, x: runs.append(x.shape) or forward(self, x))
    enc = MultiSensorEncoder(backbone=dict(type='LiteNet', arch='nano'),
                             sensor_overrides=dict(depth=TINY_RESNET))
    assert runs == []
    assert enc.out_channels['rgb'] == tuple(LiteNet(arch='nano').out_channels)
    assert enc.out_channels['depth'] == (8, 16, 32, 64)
    feats = enc(_inputs())
    assert {s: tuple(f.shape[1] for f in feats[s]) for s in SENSORS} == enc.out_channels


def test_litenet_declares_the_channels_of_the_maps_it_returns():
    net = LiteNet(arch='nano', out_indices=(1, 3)).eval()
    assert tuple(f.shape[1] for f in net(torch.randn(1, 3, 64, 64))) == net.out_channels == (48, 160)
    with pytest.raises(ValueError, match='2 feature maps'):
        MultiSensorEncoder(backbone=dict(type='LiteNet', out_indices=(1, 3)))
