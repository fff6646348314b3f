"""``perception pretrain CONFIG``: masked multi-sensor pretraining on unlabelled frames
(docs/pretraining.md).

Trains a ``MaskedMultiSensorAutoencoder`` config (configs/pretrain/) with mmengine's Runner on the
config's datasets -- or on ``--folders`` of the generic layout and ``--bags`` of rosbag2 / MCAP
logs (perception/commands/pretrain_data.py) -- with a progress bar, then prints a summary: the
iterations and wall time, the final loss per sensor, the held-out loss, where the encoder + fusion
weights and the reconstruction figure went, and how a training config loads the weights.
"""
from __future__ import annotations

import argparse
import os.path as osp
import time
from pathlib import Path
from typing import Dict, Optional

from perception.contract import SENSORS, ConfigError, PerceptionError, SensorError

HELP_EPILOG = """examples:
  perception pretrain configs/pretrain/nano_mae_rgbt.py    # the recipe: real RGB-T + synthetic
  perception pretrain configs/pretrain/nano_mae_rgbt.py --bags logs/ \\
      --topics rgb=/camera/color/image_raw thermal=/thermal/image_raw
  perception pretrain configs/pretrain/nano_mae_rgbt.py --bags logs/ --params params.yaml
                               # the node's parameters: topics, CameraInfo registration, sync
  perception pretrain CONFIG --folders data/site_a data/site_b --iters 2000 --work-dir work_dirs/mae
then fine-tune from the weights it writes:
  perception train configs/rgbt_det/nano_rgbt_mixed.py \\
      --cfg-options load_from=work_dirs/nano_mae_rgbt/pretrained_encoders.pth
"""
MODEL_TYPES = ('MaskedMultiSensorAutoencoder', 'perception.MaskedMultiSensorAutoencoder')
#: how to point a run at frames that are there
DATA_HINT = ('The real samples: set PERCEPTION_REAL_DATA to their folder; your own frames: '
             '--folders DIR (generic layout) or --bags DIR')
#: hooks every pretraining run has, added when a config leaves them out
OUTPUT_HOOKS = ('ProgressBarHook', 'PretrainedWeightsHook', 'ReconstructionFigureHook')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .train import add_config_arguments
    add_config_arguments(parser, HELP_EPILOG, 'a pretraining config (configs/pretrain/...)',
                         'where logs, weights and the figure go (default: work_dirs/<config name>)')
    parser.add_argument('--iters', type=int, help='iterations (default: the config\'s; the '
                        'learning-rate schedule is fitted to them)')
    data = parser.add_argument_group(
        'frames instead of the config\'s datasets (both may be given; a few frames of each '
        'folder or bag are held out for the figure)')
    data.add_argument('--folders', nargs='+', metavar='DIR',
                      help='folders of the generic layout (docs/data.md)')
    data.add_argument('--bags', metavar='DIR', help='a rosbag2 (folder or .mcap/.db3 file) or a '
                      'folder of them, decoded, synchronised and registered as the ROS node does')
    data.add_argument('--params', metavar='YAML', help='with --bags: the ROS node\'s parameters '
                      '(topics, topics.<sensor>_camera_info + registration.*, sync.slop)')
    data.add_argument('--topics', nargs='+', metavar='SENSOR=TOPIC',
                      help='with --bags: the sensor topics (over --params; SENSOR= leaves it out)')
    data.add_argument('--held-out', type=int, default=4, metavar='N',
                      help='frames held out of each folder or bag (default: %(default)s)')


def run(args: argparse.Namespace) -> int:
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    import perception.registry  # noqa: F401  (registries + safe checkpoint loading)
    from perception.engine.config import fit_schedule, runner_config
    from perception.registry import DATASETS

    from .pretrain_data import check_frames
    options = dict(args.cfg_options or {})
    if args.iters:
        options['train_cfg.max_iters'] = args.iters
    cfg = runner_config(args.config, options, args.work_dir, precision=args.precision)
    if cfg.model.get('type') not in MODEL_TYPES:
        raise ConfigError(f'{args.config} trains a {cfg.model.get("type")}, not a '
                          'MaskedMultiSensorAutoencoder: give a pretraining config '
                          '(configs/pretrain/), or train it with `perception train`')
    if (args.params or args.topics) and not args.bags:
        raise ConfigError('--params and --topics describe the bags of --bags: give --bags DIR')
    fit_schedule(cfg)
    if args.bags or args.folders:
        _use_frames(cfg, args)
    _add_output_hooks(cfg)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        for loader in ('train_dataloader', 'val_dataloader'):
            try:
                check_frames(DATASETS.build(cfg[loader].dataset), DATA_HINT)
            except SensorError as err:    # a dataset whose folder is not there
                raise ConfigError(f'{loader}: {err}. {DATA_HINT}') from err

    runner = Runner.from_cfg(cfg)
    t0 = time.perf_counter()
    runner.train()
    _summary(runner, cfg, time.perf_counter() - t0)
    return 0


def _use_frames(cfg, args: argparse.Namespace) -> None:
    """Train on ``--folders`` and the frames of ``--bags`` instead of the config's datasets."""
    from .pretrain_data import BAG_FRAMES, extract_bag, find_bags, folder_datasets
    pipelines = {k: cfg.get(k) for k in ('unlabelled_pipeline', 'held_out_pipeline')}
    missing = [k for k, v in pipelines.items() if not v]
    if missing:
        raise ConfigError(f'{args.config} has no {" / ".join(missing)}: --folders and --bags read '
                          'frames through them (see configs/pretrain/nano_mae_rgbt.py)')
    folders = [Path(f) for f in args.folders or ()]
    if args.bags:
        from perception.ros.config import node_config, parse_topics
        try:
            node = node_config(args.params, parse_topics(args.topics))
        except (ValueError, TypeError) as err:
            if isinstance(err, PerceptionError):
                raise
            raise ConfigError(f'--params/--topics: {" ".join(str(err).split())}') from err
        sensors = tuple(cfg.model.get('sensors', SENSORS))
        for bag in find_bags(args.bags):
            out = Path(cfg.work_dir) / BAG_FRAMES / bag.stem
            count = extract_bag(bag, out, node, sensors, cfg.get('thermal_scaling'))
            print(f'{bag}: {count} frames -> {out}')
            folders.append(out)
    train, held_out = folder_datasets(folders, pipelines['unlabelled_pipeline'],
                                      pipelines['held_out_pipeline'], args.held_out)
    cfg.train_dataloader.dataset = train
    cfg.val_dataloader.dataset = held_out
    cfg.test_dataloader = cfg.val_dataloader


def _add_output_hooks(cfg) -> None:
    hooks = list(cfg.get('custom_hooks') or [])
    named = {str(h.get('type')).split('.')[-1] for h in hooks}
    cfg.custom_hooks = hooks + [dict(type=h) for h in OUTPUT_HOOKS if h not in named]


def _hook_path(runner, name: str) -> Optional[str]:
    return next((getattr(h, 'path', None) for h in runner.hooks if type(h).__name__ == name),
                None)


def _scalars(runner, prefix: str, window: int) -> Dict[str, float]:
    """``{sensor: value}`` of the message hub's ``<prefix><sensor>`` scalars (mean of the last
    ``window`` values)."""
    logged = runner.message_hub.log_scalars
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    return {s: float(logged[prefix + s].mean(window)) for s in model.sensors
            if prefix + s in logged}


def _summary(runner, cfg, wall_s: float) -> None:
    window = int(cfg.get('log_processor', {}).get('window_size', 20))
    train = _scalars(runner, 'train/loss_', window)
    held = _scalars(runner, 'val/recon/', 1)
    frames = _scalars(runner, 'val/recon/frames_', 1)
    weights = _hook_path(runner, 'PretrainedWeightsHook')
    figure = _hook_path(runner, 'ReconstructionFigureHook')
    iters = runner.iter
    print('\n=== pretraining summary ===')
    print(f'iterations: {iters} (batch {cfg.train_dataloader.batch_size}), wall time '
          f'{wall_s:.0f} s ({wall_s / max(iters, 1):.2f} s/iteration, validation included)')
    print('loss on the hidden patches, per sensor (1.0 = predicting each patch\'s mean):')
    print(f'  training, mean of the last {min(window, iters)} iterations: '
          + ', '.join(f'{s} {v:.3f}' for s, v in train.items()))
    if held:
        print('  held-out frames, fixed masks: ' + ', '.join(
            f'{s} {v:.3f} ({int(frames.get(s, 0))} frames)' for s, v in held.items()))
    print(f'encoder + fusion weights: {weights}')
    print(f'reconstruction figure: {figure}')
    print(f'fine-tune from them: load_from = {weights!r} in a training config of the same sensors '
          'and encoder/fusion (or --cfg-options load_from=...); docs/pretraining.md')
    print(f'logs: {osp.join(cfg.work_dir, runner.timestamp)}/')
