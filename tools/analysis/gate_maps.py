#!/usr/bin/env python
"""Expert specialisation of a TaskExpert model on held-out synthetic frames.

    python tools/analysis/gate_maps.py configs/demo/nano_synthetic_demo.py work_dirs/demo/nano_demo.pth \
        --num 32 --pictures 4 --out work_dirs/gates

Writes ``usage.md`` (mean gate weight per task, level and expert/memory slot) and, for the first
``--pictures`` frames, ``gates_<i>.png`` (per task and level, the slot dominating each pixel).
"""
import argparse
import os
import os.path as osp


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?', help='weights (default: random init)')
    p.add_argument('--num', type=int, default=32, help='frames averaged into the usage table')
    p.add_argument('--pictures', type=int, default=4, help='frames drawn')
    p.add_argument('--split', default='test')
    p.add_argument('--out', default='work_dirs/gates')
    args = p.parse_args()

    from perception.studies.gate_analysis import collect, format_usage, usage_table
    from perception.apis import Predictor
    from perception.models import load_config
    from perception.registry import DATASETS
    from perception.visualization.gates import dominant_slot_picture
    from perception.visualization.panels import save_rgb
    cfg = load_config(args.config)
    predictor = Predictor.from_config(cfg, args.checkpoint)
    ds_cfg = dict(cfg.test_dataloader.dataset, split=args.split, num_samples=args.num, pipeline=[])
    os.makedirs(args.out, exist_ok=True)
    frames, samples = collect(predictor, DATASETS.build(ds_cfg), args.num)
    for i, (maps, s) in enumerate(zip(frames[:args.pictures], samples)):
        picture = dominant_slot_picture(maps, (128, 160), s['rgb'])
        save_rgb(osp.join(args.out, f'gates_{i}_{s.get("condition", "")}.png'), picture)
    table = format_usage(usage_table(frames))
    with open(osp.join(args.out, 'usage.md'), 'w') as f:
        f.write(f'Mean gate weight over {len(frames)} {args.split} frames ({args.checkpoint}):\n\n')
        f.write(table + '\n')
    print(table)
    print(f'written to {args.out}/')


if __name__ == '__main__':
    main()
