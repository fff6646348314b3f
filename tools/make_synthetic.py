"""Write synthetic RGB-thermal-depth samples in the generic layout, or measure generation speed.

    python tools/make_synthetic.py --num 1000 --out data/synthetic [--seed 0] [--size 256 320]
        [--conditions day night ...] [--split train] [--start 0]
    python tools/make_synthetic.py --benchmark [--num 200] [--size 256 320]

The folder reads back with ``GenericMultiSensorDataset(data_root=DIR, split='train')``.
``--benchmark`` generates in memory only, on one thread, and reports samples/s of generation
(what on-the-fly training sees per data-loader worker).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def benchmark(num: int, size, seed: int, conditions) -> str:
    import cv2
    from perception.datasets.synthetic import generate_sample
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)   # one core, like one data-loader worker
    try:
        for i in range(3):     # warm-up: imports, caches, noise banks
            generate_sample(i, seed, 'train', size, conditions)
        counts = Counter()
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(num):
            counts[generate_sample(i, seed, 'train', size, conditions)['condition']] += 1
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        cv2.setNumThreads(threads)
    return (f'benchmark: {num} samples at {size[0]}x{size[1]}: {num / wall:.1f} samples/s wall, '
            f'{num / cpu:.1f} samples/s per CPU-second ({1000 * cpu / num:.1f} ms CPU per sample); '
            f'conditions: {dict(sorted(counts.items()))}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    from perception.datasets.synthetic import CONDITIONS, SPLIT_KEYS
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--num', type=int, default=None, help='number of samples (benchmark: 200)')
    ap.add_argument('--out', help='output folder (generic layout)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--size', type=int, nargs=2, default=(256, 320), metavar=('H', 'W'))
    ap.add_argument('--conditions', nargs='+', choices=list(CONDITIONS), default=None,
                    help='conditions to draw from, uniformly (default: all)')
    ap.add_argument('--split', default='train', choices=list(SPLIT_KEYS))
    ap.add_argument('--start', type=int, default=0, help='index of the first sample')
    ap.add_argument('--benchmark', action='store_true',
                    help='measure generation speed, write nothing')
    args = ap.parse_args(argv)
    size = tuple(args.size)
    if args.benchmark:
        print(benchmark(args.num or 200, size, args.seed, args.conditions))
        return 0
    if not args.out or args.num is None:
        ap.error('--out and --num are required (or use --benchmark)')
    if args.num < 1:
        ap.error('--num must be >= 1')
    from tqdm import tqdm
    from perception.datasets.synthetic.export import write_dataset
    summary = write_dataset(args.out, args.num, args.seed, args.split, size, args.conditions,
                            args.start, progress=lambda it: tqdm(it, desc=f'synthetic {args.split}',
                                                                 unit='sample', disable=None))
    print(f'wrote {summary} to {os.path.abspath(args.out)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
