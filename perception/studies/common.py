"""What every evidence study shares: settings, config variants, training with a cache, evaluation.

A study derives each model it compares from ``configs/studies/nano_study_128x160.py`` by changing
exactly what it studies (fusion, decoder, tasks, sensors, missingness) and trains it with mmengine's
Runner, as ``tools/train.py`` would. Trained models are cached under
``<work_dir>/models/<config hash>/``: two studies that need the same model (e.g. the default
multi-task model) train it once, and a rerun with unchanged settings only re-evaluates.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from perception.paths import REPO_ROOT

STUDY_CONFIG = osp.join(str(REPO_ROOT), 'configs', 'studies', 'nano_study_128x160.py')
Log = Callable[[str], None]


@dataclass
class Settings:
    """How big a study run is. ``quick_settings()`` is the CI pipeline check: it proves that the
    code runs end to end, and its numbers mean nothing."""
    work_dir: str = 'work_dirs/studies'
    seed: int = 0
    iters: int = 500
    batch_size: int = 8
    img_size: Tuple[int, int] = (128, 160)
    test_frames: int = 280
    workers: int = 0             # in-process data: faster on 2 cores (docs/training.md)
    latency_runs: int = 30
    quick: bool = False
    progress: bool = True
    seeds: Tuple[int, ...] = ()  # studies trained on several seeds: only these (empty: all of them)

    @classmethod
    def quick_settings(cls, **overrides) -> 'Settings':
        values = dict(iters=3, batch_size=2, img_size=(64, 96), test_frames=8, workers=0,
                      latency_runs=2, quick=True, progress=False)
        values.update(overrides)
        return cls(**values)

    def run_seeds(self, default: Tuple[int, ...]) -> Tuple[int, ...]:
        """The seeds a study trained on several seeds runs: ``--seeds``, else its ``default``;
        ``--quick`` runs ``--seed`` alone."""
        return (self.seed, ) if self.quick else (tuple(self.seeds) or tuple(default))

    def describe(self, iterations: Optional[str] = None,
                 seeds: Optional[Sequence[int]] = None) -> str:
        """The setting in words; ``iterations``: said instead of ``iters`` (several schedules);
        ``seeds``: said instead of ``seed`` (a study run on several)."""
        h, w = self.img_size
        seed = (f'seeds {", ".join(map(str, seeds))}' if seeds is not None
                else f'seed {self.seed}')
        return (f'{iterations or self.iters} iterations at batch {self.batch_size} on {h}x{w} '
                f'frames, {seed}, {self.test_frames} held-out test frames per evaluation')


@dataclass
class Trained:
    name: str
    checkpoint: str
    config: Config
    seconds: float
    reused: bool


# --- configs -------------------------------------------------------------------------------------
def base_config(settings: Settings) -> Config:
    """The study config with ``settings`` applied (sizes, schedule, seeds, loaders)."""
    from perception.engine.config import runner_config
    cfg = runner_config(STUDY_CONFIG, work_dir=settings.work_dir)
    h, w = settings.img_size
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.batch_size = settings.batch_size
        loader.num_workers = settings.workers
        loader.persistent_workers = settings.workers > 0
        loader.dataset.img_size = (h, w)
        loader.dataset.seed = settings.seed
    for t in cfg.train_dataloader.dataset.pipeline:
        for key in ('scale', 'crop_size', 'size'):
            if key in t:
                t[key] = (w, h)
    cfg.test_dataloader.dataset.num_samples = settings.test_frames
    cfg.randomness = dict(seed=settings.seed)
    iters = settings.iters
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters + 1
    warmup = min(100, max(1, iters // 5))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=warmup),
        dict(type='CosineAnnealingLR', T_max=max(1, iters - warmup), eta_min=3e-5, by_epoch=False,
             begin=warmup, end=max(iters, warmup + 1))]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iters,
                                        max_keep_ckpts=1, save_best=None)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, iters // 5))
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.visualizer.pop('name', None)   # several runners in one process: one visualiser each
    cfg.log_level = 'ERROR'            # the study prints its own progress and tables
    return cfg


def variant(cfg: Config, *, fusion: Optional[str] = None, decoder: Optional[str] = None,
            tasks: Optional[Sequence[str]] = None, balance_weight: Optional[float] = None,
            decoder_options: Optional[dict] = None,
            train_conditions: Optional[Sequence[str]] = None,
            train_missingness: Optional[List[dict]] = None) -> Config:
    """A copy of ``cfg`` that differs in the named parts only.

    fusion: 'AttentionFusion' (default), 'ConcatFusion' or 'SumFusion'.
    decoder: 'TaskExpertDecoder' (default) or 'PlainDecoder'.
    decoder_options: keyword arguments set on the (new) decoder, e.g. ``dict(num_experts=2)`` or
        ``dict(channels=(48, 72, 96, 144))`` (decoder widths; the heads read what it gives).
    tasks: a subset of ('seg', 'det', 'depth'): heads, loss weights and metric follow.
    train_missingness: transforms that replace the train pipeline's ``ModalityDropout`` (an empty
        list removes it), e.g. ``[dict(type='KeepSensors', sensors=['rgb'])]``.
    """
    cfg = copy.deepcopy(cfg)   # Config.copy() is shallow: variants would edit each other
    model = cfg.model
    if fusion is not None and fusion != model.fusion.type:
        model.fusion = dict(type=fusion, channels=model.fusion.channels,
                            norm_cfg=model.fusion.get('norm_cfg'))
    if decoder is not None and decoder != model.decoder.type:
        model.decoder = dict(type=decoder, norm_cfg=model.decoder.get('norm_cfg'))
    if balance_weight is not None:
        model.decoder.balance_weight = balance_weight
    if decoder_options:
        model.decoder.update(copy.deepcopy(decoder_options))
    if tasks is not None:
        model.tasks = tuple(tasks)
        model.heads = {t: h for t, h in model.heads.items() if t in tasks}
        model.task_weighting.weights = {t: w for t, w in model.task_weighting.weights.items()
                                        if t in tasks}
        for key in ('val_evaluator', 'test_evaluator'):
            cfg[key] = dict(cfg[key], tasks=tuple(tasks))
    if train_conditions is not None:
        cfg.train_dataloader.dataset.conditions = list(train_conditions)
    if train_missingness is not None:
        pipeline = [t for t in cfg.train_dataloader.dataset.pipeline
                    if t['type'] != 'ModalityDropout']
        at = next(i for i, t in enumerate(pipeline) if t['type'] == 'Pad')
        cfg.train_dataloader.dataset.pipeline = (pipeline[:at] + list(train_missingness) +
                                                 pipeline[at:])
    return cfg


#: Config keys that do not change the trained model: where its files go, deployment settings chosen
#: after training (the overlays' display threshold), and how it is evaluated.
UNTRAINED_KEYS = ('work_dir', 'experiment_name', 'load_from', 'display_thr',
                  'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator', 'val_cfg',
                  'test_cfg', 'subset_eval_conditions')
#: ... and every top-level key named like an evaluation set, metric or test pipeline
#: (``msrs_val_dataloader``, ``rgbt_evaluator``, ``rgbt_test_pipeline``, ``msrs_val_ids``).
UNTRAINED_SUFFIXES = ('_val_dataloader', '_test_dataloader', '_evaluator', 'test_pipeline',
                      '_val_ids')
#: Custom hooks that only show progress; every other hook may change the saved weights (an
#: EMAHook saves the averaged ones) and so is part of what a model is.
UNTRAINED_HOOKS = ('ProgressBarHook', )


def config_hash(cfg: Config) -> str:
    """What a model is: everything in the config except ``UNTRAINED_KEYS``, keys ending in
    ``UNTRAINED_SUFFIXES`` and progress hooks (``UNTRAINED_HOOKS``): two configs that train the
    same model share its cache folder whatever they evaluate it on."""
    clean = copy.deepcopy(cfg)
    for key in list(clean.keys()):
        if key in UNTRAINED_KEYS or key.endswith(UNTRAINED_SUFFIXES):
            clean.pop(key, None)
    hooks = [h for h in clean.pop('custom_hooks', None) or []
             if h.get('type') not in UNTRAINED_HOOKS]
    if hooks:
        clean.custom_hooks = hooks
    return hashlib.sha256(clean.pretty_text.encode()).hexdigest()[:12]


# --- training and evaluation ---------------------------------------------------------------------
def train(cfg: Config, name: str, settings: Settings, log: Log = print) -> Trained:
    """Train ``cfg`` (or reuse the cached model of an identical config); return its checkpoint."""
    from mmengine.runner import Runner
    key = config_hash(cfg)
    folder = osp.join(settings.work_dir, 'models', key)
    final = osp.join(folder, 'model.pth')
    meta_path = osp.join(folder, 'meta.json')
    if osp.isfile(final) and osp.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        log(f'  {name}: reusing {final} (same config, trained in {meta["seconds"]:.0f} s)')
        return Trained(name, final, cfg, meta['seconds'], True)
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = folder
    cfg.experiment_name = f'train_{name}_{key}'
    if settings.progress:   # beside runner_config's hooks (SensorsSeenHook)
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks') or []
                            if h.get('type') != 'ProgressBarHook'] + [
            dict(type='ProgressBarHook', desc=f'  train {name}')]
    log(f'  {name}: training {settings.iters} iterations -> {folder}')
    t0 = time.time()
    Runner.from_cfg(cfg).train()
    seconds = time.time() - t0
    shutil.copyfile(osp.join(folder, f'iter_{settings.iters}.pth'), final)
    with open(meta_path, 'w') as f:
        json.dump(dict(name=name, seconds=seconds, settings=asdict(settings)), f, indent=1)
    cfg.dump(osp.join(folder, 'config.py'))
    log(f'  {name}: trained in {seconds:.0f} s')
    return Trained(name, final, cfg, seconds, False)


def evaluate(model: Trained, settings: Settings, label: str,
             transforms: Sequence[dict] = (), conditions: Optional[Sequence[str]] = None,
             log: Log = print, split: str = 'test') -> Dict[str, float]:
    """Metrics of ``model`` on the held-out test split; ``transforms`` run just before packing
    (e.g. ``KeepSensors`` for a sensor subset), ``conditions`` restricts the scenes. Choosing
    between variants is done on ``split='val'`` (a seed stream disjoint from train and test), so
    that the test frames are never tuned on."""
    from perception.engine.testing import run_test_loop
    cfg = copy.deepcopy(model.config)
    cfg.custom_hooks = []
    dataset = cfg.test_dataloader.dataset
    dataset.split, dataset.seed = split, settings.seed
    dataset.num_samples = settings.test_frames
    cfg.work_dir = osp.join(osp.dirname(model.checkpoint), 'eval')
    t0 = time.time()
    metrics = run_test_loop(cfg, model.checkpoint, transforms, conditions,
                              f'{split}_{model.name}_{label}_{int(time.time() * 1e3)}')
    log(f'  {model.name} on {label}: evaluated {settings.test_frames} frames in '
        f'{time.time() - t0:.0f} s')
    return metrics


def save_json(data, path: str) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, indent=1, default=float)


# --- latency -------------------------------------------------------------------------------------
def size_label(size: Sequence[int]) -> str:
    return f'{size[0]}x{size[1]}'


def latency_costs(name: str, model: Trained, sizes, runs: int, folder: str, log: Log = print,
                  backends: Sequence[str] = ('onnxruntime fp32', 'pytorch eager')) -> Dict:
    """Parameters, and per size: GMACs and median latency in each backend (batch 1, every sensor
    of the model present) of the network a study trained -- nano's deployed graph, a library
    model's raw network (``deployed_network``)."""
    import gc

    import torch

    from perception.benchmark import runners as br
    from perception.models import build_model
    os.makedirs(folder, exist_ok=True)
    slug = name.lower().replace(' ', '_').replace('+', '').replace('(', '').replace(')', '')
    # parameters of the model as trained (nano's re-parameterised graph merges branches)
    out: Dict = dict(params_m=sum(p.numel() for p in build_model(model.config).parameters()) / 1e6)
    for size in sizes:
        eager, onnx, inputs, names = deployed_network(model, size, folder, slug)
        cost = dict(gmacs=br.count_flops(eager, inputs) / 1e9)
        warmup = max(1, runs // 5)
        with torch.inference_mode():
            cost['pytorch eager'] = br.latency_stats(
                br.time_runner(br.torch_runner(eager, inputs), runs, warmup))['median_ms']
        run = br.onnxruntime_runner(onnx, inputs, names=names)
        cost['onnxruntime fp32'] = br.latency_stats(br.time_runner(run, runs, warmup))['median_ms']
        del run
        gc.collect()   # an idle ONNX Runtime session's threads slow the next PyTorch timing
        out[size_label(size)] = cost
        log(f'  {name} at {size_label(size)}: ' + ', '.join(
            f'{b} {cost[b]:.1f} ms' for b in backends) + f', {cost["gmacs"]:.2f} GMACs')
    return out


def deployed_network(model: Trained, size, folder: str, slug: str):
    """``(module, onnx file, inputs, input names)`` of a trained model at ``size``: a library model's
    network (raw head outputs, the three-sensor inputs it ignores in part) or nano's deployed graph
    (re-parameterised, as ``perception benchmark`` times it) with the inputs of its own sensors."""
    from pathlib import Path

    from perception.benchmark import runners as br
    from perception.models import build_model
    from perception.models.export import ExportWrapper
    from perception.models.library_model import LibraryNetwork
    folder = Path(folder)
    if model.config.model.type == 'LibraryModel':
        inputs = br.sensor_inputs(size)
        net = LibraryNetwork(build_model(model.config)).eval()
        return (net, br.export_module(net, inputs, folder / f'{slug}_{size_label(size)}.onnx'),
                inputs, None)
    from perception.benchmark.suite import export_deployed   # as the benchmark times it
    config = folder / f'{slug}.py'
    model.config.dump(str(config))
    files = export_deployed(str(config), size, folder, False, 0)
    wrapper = ExportWrapper(files['model']).eval()
    return (wrapper, files['fp32'], br.sensor_inputs(size, model_sensors=wrapper.sensors),
            wrapper.input_names)
