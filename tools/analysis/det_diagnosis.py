#!/usr/bin/env python
"""Why detection is weak, measured: object sizes, what the assigner gives each object, recall by size.

    python tools/analysis/det_diagnosis.py CONFIG CKPT [CONFIG2 CKPT2 ...] [--frames 64] [--split val]

For each (config, checkpoint) pair, on held-out frames of the config's test dataset (its ``val``
split by default: the diagnosis chooses what to change, so it never looks at test frames):

* the ground-truth box sizes (sqrt of the area, pixels at the network input), as a histogram;
* positives per object from the head's own assigner (mmdet's ``DynamicSoftLabelAssigner`` for RTMDet),
  run on the trained model's predictions as in training: how many prior points each object gets,
  on which stride, and the share of objects that get none;
* recall at IoU 0.5 per size bin (top 100 detections per frame, score >= 0.05).

Used for docs/results.md ("Diagnosis"); prints one table per model.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

SIZE_BINS = (0, 8, 16, 32, 64, 1e9)


def _bin(size: float) -> str:
    for lo, hi in zip(SIZE_BINS, SIZE_BINS[1:]):
        if lo <= size < hi:
            return f'{lo:g}-{hi:g}px' if hi < 1e9 else f'>={lo:g}px'
    return '?'


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def diagnose(config: str, checkpoint: str, frames: int, split: str = 'val') -> dict:
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData

    import perception.registry  # noqa: F401
    from perception.models.builder import build_model, load_config
    from perception.models.sensor_inputs import batch_sensor_args
    from perception.registry import DATASETS
    init_default_scope('perception')
    cfg = load_config(config)
    model = build_model(cfg, checkpoint).eval()
    if 'det' not in getattr(model, 'heads', {}):
        from perception.contract import ConfigError
        raise ConfigError(f'{config}: the model has no detection head (tasks: '
                          f'{getattr(model, "tasks", "?")}); give a config whose model detects')
    head = model.heads['det']
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, num_samples=frames, split=split))
    sizes, positives, per_level, recall = [], [], Counter(), Counter()
    totals = Counter()
    strides = head.strides
    for start in range(0, len(dataset), 8):
        batch = pseudo_collate([dataset[i] for i in range(start, min(start + 8, len(dataset)))])
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
            args = batch_sensor_args(data['inputs'])
            raw, _, _, _ = model._run(*args)
            cls_scores, bbox_preds = raw['det'][0], raw['det'][1]
            preds = model.predict(args, data['data_samples'])
        priors = head.head.prior_generator.grid_priors(
            [c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
            with_stride=True, device=cls_scores[0].device)
        level_of = torch.cat([torch.full((len(p), ), i) for i, p in enumerate(priors)])
        flat_priors = torch.cat(priors)
        b = cls_scores[0].shape[0]
        scores = torch.cat([c.permute(0, 2, 3, 1).reshape(b, -1, head.num_classes)
                            for c in cls_scores], 1).sigmoid()
        deltas = torch.cat([p.permute(0, 2, 3, 1).reshape(b, -1, 4) for p in bbox_preds], 1)
        boxes = head.head.bbox_coder.decode(flat_priors[None, :, :2].expand(b, -1, -1), deltas)
        for i, sample in enumerate(data['data_samples']):
            gt = sample.gt_instances
            gtb = torch.as_tensor(gt.bboxes, dtype=torch.float32).view(-1, 4)
            gtl = torch.as_tensor(gt.labels, dtype=torch.long).view(-1)
            if not len(gtb):
                continue
            assigned = head.head.assigner.assign(
                InstanceData(scores=scores[i], bboxes=boxes[i], priors=flat_priors),
                InstanceData(bboxes=gtb, labels=gtl))
            inds = assigned.gt_inds.numpy()            # 0: negative, k: gt k-1
            side = np.sqrt(np.prod((gtb[:, 2:] - gtb[:, :2]).clamp_min(0).numpy(), -1))
            pred = preds[i].pred_instances
            keep = pred.scores.numpy() >= 0.05
            ious = _iou(gtb.numpy(), pred.bboxes.numpy()[keep]) if keep.any() else None
            for k in range(len(gtb)):
                bucket = _bin(side[k])
                sizes.append(side[k])
                n = int((inds == k + 1).sum())
                positives.append(n)
                totals[bucket] += 1
                totals[f'{bucket} no positive'] += n == 0
                for lvl in level_of[torch.as_tensor(inds == k + 1)].tolist():
                    per_level[f's{strides[lvl]}'] += 1
                hit = ious is not None and (ious[k] >= 0.5).any()
                recall[bucket] += bool(hit)
    buckets = [b for b in (_bin(v) for v in (4, 12, 24, 48, 96)) if totals[b]]
    return dict(objects=len(sizes), median_size=float(np.median(sizes)) if sizes else 0.0,
                mean_positives=float(np.mean(positives)) if positives else 0.0,
                no_positive=float(np.mean([p == 0 for p in positives])) if positives else 0.0,
                per_level=dict(per_level), buckets={
                    b: dict(objects=totals[b], share=totals[b] / max(1, len(sizes)),
                            no_positive=totals[f'{b} no positive'] / totals[b],
                            recall50=recall[b] / totals[b]) for b in buckets})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('pairs', nargs='+', help='CONFIG CKPT [CONFIG CKPT ...]')
    ap.add_argument('--frames', type=int, default=64)
    ap.add_argument('--split', default='val', help="dataset split (default 'val')")
    args = ap.parse_args()
    if len(args.pairs) % 2:
        ap.error('give CONFIG CKPT pairs')
    for config, ckpt in zip(args.pairs[::2], args.pairs[1::2]):
        r = diagnose(config, ckpt, args.frames, args.split)
        print(f'\n{config} ({ckpt}): {r["objects"]} objects, median size {r["median_size"]:.1f} '
              f'px, {r["mean_positives"]:.2f} positives per object, {100 * r["no_positive"]:.0f} % '
              f'without any; positives per stride: {r["per_level"]}')
        print(f'{"size":>10s} {"objects":>8s} {"share":>6s} {"no pos.":>8s} {"recall@0.5":>10s}')
        for b, v in r['buckets'].items():
            print(f'{b:>10s} {v["objects"]:8d} {100 * v["share"]:5.0f}% '
                  f'{100 * v["no_positive"]:7.0f}% {100 * v["recall50"]:9.0f}%')
    return 0


if __name__ == '__main__':
    sys.exit(main())
