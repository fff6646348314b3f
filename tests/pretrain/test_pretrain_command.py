"""``perception pretrain`` end to end through the command line: a few iterations on tiny synthetic
frames write the encoder + fusion weights, the reconstruction figure and a summary; the weights load
into the shipped training configs (``load_from``, ``init_cfg``) and set exactly those tensors;
folders of the generic layout with any subset of the sensors; the shipped recipe on the real
RGB-thermal frames; input errors that name the fix."""
import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from pretrain_helpers import (DEMO, RGBT_MIXED, SHIPPED, run_perception, tiny_config, transferred,
                              write_synthetic_folder)

import perception.registry  # noqa: F401
from perception.cli import main
from perception.contract import SENSORS
from perception.datasets import GenericLayoutWriter
from perception.engine.config import runner_config
from perception.models import build_module

TILE_H, CAPTION_H = 160, 18      # ReconstructionFigureHook's tiles, panels.caption_bar


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """3 iterations of the shipped config on tiny synthetic RGB-thermal frames, by the CLI."""
    tmp = tmp_path_factory.mktemp('pretrain')
    proc = run_perception('pretrain', tiny_config(tmp / 'tiny.py'), '--work-dir', tmp / 'work')
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp / 'work', proc


def test_the_command_writes_weights_a_figure_and_a_summary(pretrained):
    work, proc = pretrained
    assert 'pretrain: 100%' in proc.stderr and '3/3' in proc.stderr      # the progress bar
    summary = proc.stdout.split('=== pretraining summary ===')[1]
    assert 'iterations: 3 (batch 2)' in summary and 's/iteration' in summary
    assert 'training, mean of the last 3 iterations: rgb ' in summary and 'thermal ' in summary
    assert 'held-out frames, fixed masks: rgb' in summary and '(2 frames)' in summary
    assert f'encoder + fusion weights: {work / "pretrained_encoders.pth"}' in summary
    assert f'reconstruction figure: {work / "reconstruction.png"}' in summary
    assert 'load_from' in summary
    ckpt = torch.load(work / 'pretrained_encoders.pth', map_location='cpu', weights_only=True)
    assert ckpt['meta']['pretraining']['iterations'] == 3
    assert ckpt['meta']['pretraining']['sensors'] == ['rgb', 'thermal']
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {'encoder', 'fusion'}
    figure = cv2.imread(str(work / 'reconstruction.png'))
    # two held-out frames, one row each; per sensor input | reconstruction | frame
    assert figure.shape[0] == CAPTION_H + 2 * TILE_H
    assert figure.shape[1] == 6 * round(96 * TILE_H / 64)


def _runner(config, work_dir, **options):
    cfg = runner_config(str(config), options, str(work_dir))
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.visualizer.pop('name', None)      # one visualiser per runner (mmengine's singleton)
    return Runner.from_cfg(cfg)


def assert_loaded(model, ckpt_path, before):
    """The checkpoint's tensors are the model's encoder + fusion, exactly; nothing else moved."""
    saved = torch.load(ckpt_path, map_location='cpu', weights_only=True)['state_dict']
    after = model.state_dict()
    assert saved.keys() == transferred(after).keys()
    for key, value in after.items():
        expected = saved[key] if key in saved else before[key]
        assert torch.equal(value, expected), key
    assert any(not torch.equal(saved[k], before[k]) for k in saved)   # they did change


def test_load_from_in_the_rgbt_training_config(pretrained, tmp_path):
    ckpt = pretrained[0] / 'pretrained_encoders.pth'
    runner = _runner(RGBT_MIXED, tmp_path, load_from=str(ckpt))
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.load_or_resume()
    assert_loaded(runner.model, ckpt, before)


def test_init_cfg_pretrained_in_the_rgbt_training_config(pretrained):
    ckpt = str(pretrained[0] / 'pretrained_encoders.pth')
    saved = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    model_cfg = Config.fromfile(str(RGBT_MIXED)).model
    with DefaultScope.overwrite_default_scope('perception'):
        whole = build_module(dict(model_cfg, init_cfg=dict(type='Pretrained', checkpoint=ckpt)))
        encoder_only = build_module(dict(model_cfg, encoder=dict(
            model_cfg.encoder, init_cfg=dict(type='Pretrained', checkpoint=ckpt,
                                             prefix='encoder.'))))
    whole.init_weights()
    encoder_only.init_weights()
    assert all(torch.equal(whole.state_dict()[k], v) for k, v in saved.items())
    moved = {k: torch.equal(encoder_only.state_dict()[k], v) for k, v in saved.items()}
    assert all(v for k, v in moved.items() if k.startswith('encoder.'))
    assert not all(v for k, v in moved.items() if k.startswith('fusion.'))


def test_folders_with_any_sensor_subset_pretrain_the_demo_nano(tmp_path):
    """Generic-layout folders whose frames have 1, 2 or 3 of the sensors; the weights of the
    three-sensor model load into the demo's nano."""
    subsets = [SENSORS, ('rgb', ), ('thermal', 'depth'), ('depth', ), ('rgb', 'thermal')]
    folders = [write_synthetic_folder(tmp_path / name, subsets[k::2], seed=k)
               for k, name in enumerate(('site_a', 'site_b'))]
    config = tiny_config(tmp_path / 'tiny3.py', sensors=SENSORS)
    proc = run_perception('pretrain', config, '--folders', *folders, '--held-out', '1',
                      '--work-dir', tmp_path / 'work')
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = proc.stdout.split('=== pretraining summary ===')[1]
    assert 'held-out frames, fixed masks: rgb' in summary and 'depth' in summary
    runner = _runner(DEMO, tmp_path / 'demo', load_from=str(tmp_path / 'work' /
                                                             'pretrained_encoders.pth'))
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.load_or_resume()
    assert_loaded(runner.model, tmp_path / 'work' / 'pretrained_encoders.pth', before)


@pytest.mark.real_data
def test_the_shipped_recipe_on_the_real_rgbt_frames(real_root, tmp_path):
    """Two iterations of configs/pretrain/nano_mae_rgbt.py as shipped (its real unlabelled frames
    and synthetic scenes), two held-out MSRS validation frames."""
    config = tmp_path / 'real.py'
    config.write_text(f'''_base_ = [{str(SHIPPED)!r}]
train_cfg = dict(max_iters=2, val_interval=2)
train_dataloader = dict(batch_size=2)
val_dataloader = dict(dataset=dict(ids=['00036N', '00099D']))
visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])
''')
    proc = run_perception('pretrain', config, '--work-dir', tmp_path / 'work')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'held-out frames, fixed masks: rgb' in proc.stdout and '(2 frames)' in proc.stdout
    figure = cv2.imread(str(tmp_path / 'work' / 'reconstruction.png'))
    assert figure.shape[0] == CAPTION_H + 2 * TILE_H


def input_error(capsys, *args):
    """``perception ARGS`` in this process: exit code 2 and the one ``error:`` line."""
    assert main([str(a) for a in args]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith('error: ')]
    assert len(lines) == 1
    return lines[0]


def test_errors_name_the_fix(tmp_path, capsys, monkeypatch):
    config = tiny_config(tmp_path / 'tiny.py')
    empty = tmp_path / 'empty'
    GenericLayoutWriter(empty, dict(name='empty')).close()      # dataset.yaml, no frame
    line = input_error(capsys, 'pretrain', config, '--folders', empty)
    assert f'{empty}: no frames' in line and 'generic layout' in line
    line = input_error(capsys, 'pretrain', config, '--folders', tmp_path)
    assert 'dataset.yaml' in line
    line = input_error(capsys, 'pretrain', RGBT_MIXED)
    assert 'MultiTaskPerceptor' in line and 'configs/pretrain/' in line
    line = input_error(capsys, 'pretrain', config, '--topics', 'rgb=/cam')
    assert '--bags' in line
    line = input_error(capsys, 'pretrain', config, '--bags', tmp_path / 'nowhere')
    assert 'no such folder or bag file' in line
    line = input_error(capsys, 'pretrain', config, '--bags', tmp_path)
    assert 'no rosbag2 in it' in line
    (tmp_path / 'broken.mcap').write_text('not a bag')
    line = input_error(capsys, 'pretrain', config, '--bags', tmp_path / 'broken.mcap')
    assert 'not a readable rosbag2' in line
    monkeypatch.setenv('PERCEPTION_REAL_DATA', str(tmp_path / 'no_real_data'))
    line = input_error(capsys, 'pretrain', SHIPPED)
    assert 'train_dataloader' in line and 'PERCEPTION_REAL_DATA' in line and '--folders' in line
