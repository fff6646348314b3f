"""``MaskedMultiSensorAutoencoder``: built from the shipped config with the package's own encoders
and fusion, under the names a ``MultiTaskPerceptor`` gives them; a hidden patch reaches the encoders
as 0; an absent sensor is neither input nor target; held-out reconstructions use a fixed mask."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from pretrain_helpers import DEMO, RGBT_MIXED, SHIPPED, TINY, transferred

import perception.models  # noqa: F401  (registers the model parts)
from perception.contract import SENSORS
from perception.models import build_model, build_module
from perception.models.patch_masking import patches_to_pixels
from perception.structures import MultiTaskDataSample


def autoencoder(**changes):
    model = Config.fromfile(str(SHIPPED)).model
    model.update(changes)
    with DefaultScope.overwrite_default_scope('perception'):
        return build_module(model)


def batch(model, present, seed=0):
    """Normalised inputs of the model's sensors (absent ones zero) and the float mask."""
    g = torch.Generator().manual_seed(seed)
    present = torch.tensor(present, dtype=torch.bool)
    tensors = []
    for j, s in enumerate(model.sensors):
        x = torch.randn(len(present), 3 if s == 'rgb' else 1, *TINY, generator=g)
        tensors.append(x * present[:, j].view(-1, 1, 1, 1))
    return (*tensors, present.float())


def samples(n):
    return [MultiTaskDataSample(metainfo=dict(img_shape=TINY)) for _ in range(n)]


def seeded_loss(model, args, seed=5):
    torch.manual_seed(seed)
    return model.loss(args, samples(args[0].shape[0]))


@pytest.fixture(scope='module')
def rgbt():
    torch.manual_seed(0)
    return autoencoder().train()


def test_the_shipped_config_builds_the_perceptors_encoder_and_fusion(rgbt):
    """Same tensor names and shapes as nano_rgbt_mixed's encoder + fusion: load_from fits."""
    perceptor = transferred(build_model(str(RGBT_MIXED)).state_dict())
    ours = rgbt.transferable_state_dict()
    assert ours.keys() == perceptor.keys() and len(ours) > 100
    assert all(ours[k].shape == perceptor[k].shape for k in ours)
    assert rgbt.sensors == ('rgb', 'thermal')


def test_all_three_sensors_build_the_demo_nanos_encoder_and_fusion():
    perceptor = transferred(build_model(str(DEMO)).state_dict())
    ours = autoencoder(sensors=SENSORS).transferable_state_dict()
    assert ours.keys() == perceptor.keys()
    assert all(ours[k].shape == perceptor[k].shape for k in ours)


def test_losses_per_sensor_and_the_visible_share(rgbt):
    losses = seeded_loss(rgbt, batch(rgbt, [[1, 1], [1, 1]]))
    assert set(losses) == {'loss_rgb', 'loss_thermal', 'visible'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert 0.05 < float(losses['visible']) < 0.45     # mask ratio (0.6, 0.9)


def test_an_absent_sensor_is_neither_input_nor_target(rgbt):
    """Frame 1 has no thermal: whatever its thermal tensor holds changes no loss and no
    prediction; a batch without thermal has a zero thermal loss, still in the graph."""
    rgbt.eval()   # BatchNorm batch statistics would mix the frames
    args = batch(rgbt, [[1, 1], [1, 0]])
    frame_1 = torch.tensor([0., 1.]).view(-1, 1, 1, 1)
    other = (args[0], args[1] + torch.randn_like(args[1]) * frame_1, args[2])
    first, second = seeded_loss(rgbt, args), seeded_loss(rgbt, other)
    assert all(torch.equal(first[k], second[k]) for k in first)
    torch.manual_seed(5)
    rec = rgbt.reconstruct(*args)
    assert not rec.visible[1, 1].any() and rec.present[1].tolist() == [True, False]
    none = seeded_loss(rgbt, batch(rgbt, [[1, 0], [1, 0]]))
    assert float(none['loss_thermal'].detach()) == 0.0 and none['loss_thermal'].requires_grad
    rgbt.train()


def test_hidden_patches_reach_the_encoders_as_zero(rgbt):
    """Changing the pixels of hidden patches changes no prediction (only the target)."""
    rgbt.eval()
    args = batch(rgbt, [[1, 1], [1, 1]])
    torch.manual_seed(6)
    rec = rgbt.reconstruct(*args)
    shown = patches_to_pixels(rec.visible, rgbt.patch_size, TINY)
    changed = tuple(torch.where(shown[:, j:j + 1], x, x + 3.0) for j, x in enumerate(args[:2]))
    torch.manual_seed(6)
    again = rgbt.reconstruct(*changed, args[2])
    assert all(torch.equal(rec.preds[s], again.preds[s]) for s in rgbt.sensors)
    rgbt.train()


def test_held_out_reconstructions_use_a_fixed_mask_and_the_sensors_units(rgbt):
    rgbt.eval()
    args = batch(rgbt, [[1, 1], [0, 1]])
    cropped = samples(2)
    cropped[1].set_metainfo(dict(img_shape=(48, 80)))
    first = rgbt.predict(args, cropped)
    second = rgbt.predict(args, samples(2))
    assert first[0].recon_loss == second[0].recon_loss
    assert set(first[0].recon_loss) == {'rgb', 'thermal'}
    assert set(first[1].recon_loss) == {'thermal'}
    views = first[1].reconstruction['thermal']
    assert {k: tuple(v.shape) for k, v in views.items()} == {
        'input': (1, 48, 80), 'reconstruction': (1, 48, 80), 'target': (1, 48, 80),
        'visible': (1, 48, 80)}
    mean, std = 0.5, 0.25                                # contract.NORMALIZATION['thermal']
    assert torch.allclose(views['target'], args[1][1, :, :48, :80] * std + mean)
    seen = views['visible']
    assert torch.equal(views['reconstruction'][seen], views['target'][seen])   # pasted back
    assert torch.all(views['input'][~seen] == mean)       # hidden: 0 in the input space
    rgbt.train()


def test_the_shipped_recipe_never_pretrains_on_the_validation_frames():
    """docs/real_rgbt.md validates on MSRS frames and LLVIP pairs that no recipe trains on: the
    pretraining does not see them either (the MSRS ones are its held-out frames)."""
    cfg = Config.fromfile(str(SHIPPED))
    trained = {}
    for part in cfg.train_dataloader.dataset.datasets[1:]:
        frames = part.dataset
        trained.setdefault(frames.data_root.rsplit('/', 1)[-1], set()).update(
            frames.get('ids') or ())
    assert trained['msrs'] == set(cfg.msrs_train_ids)
    assert set(cfg.val_dataloader.dataset.ids) == set(cfg.msrs_val_ids)
    assert not trained['llvip'] & set(cfg.llvip_val_ids)


def test_the_stated_budget_is_for_the_shipped_schedule():
    """The config's budget comment is a measured run of its iterations: a schedule of another
    length needs a new measurement."""
    import re
    stated = re.search(r'Budget: .*?(\d+) iterations', SHIPPED.read_text(), re.S)
    assert stated and int(stated.group(1)) == Config.fromfile(str(SHIPPED)).train_cfg.max_iters, \
        f'{SHIPPED}: the budget comment is not for train_cfg.max_iters: measure it again'
