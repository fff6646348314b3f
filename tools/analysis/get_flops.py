"""Parameters and FLOPs of a model config at a given input size (mmseg's ``get_flops.py`` convention).

    python tools/analysis/get_flops.py configs/_base_/models/nano.py --shape 256 320

Counts with mmengine's analyser (``mmengine.analysis.get_model_complexity_info``, fvcore's
jit-trace-based counter) over ``forward_export`` with all three sensors present. Like fvcore and
mmseg/mmdet, one fused multiply-add counts as one FLOP; element-wise ops (activations,
normalisation, softmax) are not counted. Two rows: the model as trained (re-parameterisable blocks
with their branches) and its inference form after ``reparameterize`` (what is exported and run).
Latency, not this count, is what the nano model is designed by (docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, Sequence

import torch
from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from perception.contract import SENSORS  # noqa: E402


def complexity(config: str, shape: Sequence[int], cfg_options: Dict = None,
               table: bool = False) -> Dict:
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger

    from perception.models import ExportForward, build_model, dummy_inputs, load_config
    from perception.models.layers import reparameterize

    model = build_model(load_config(config, cfg_options)).eval()
    # the analyser warns once per op it does not count (activations, norms): noise here
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    out = {}
    for form, net in (('train', model), ('inference', None)):
        if net is None:
            net = reparameterize(model)
        with torch.no_grad():
            info = get_model_complexity_info(ExportForward(net), inputs=dummy_inputs(*shape),
                                             show_table=table, show_arch=False)
        out[form] = dict(flops=info['flops'], params=info['params'],
                         table=info.get('out_table', ''))
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--shape', type=int, nargs=2, default=[256, 320], metavar=('H', 'W'))
    p.add_argument('--table', action='store_true', help='per-module breakdown')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config keys, e.g. model.decoder.num_experts=2')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    r = complexity(args.config, args.shape, args.cfg_options, args.table)
    h, w = args.shape
    if args.table:
        print(r['inference']['table'])
    print('=' * 40)
    print(f'Config: {args.config}')
    print(f'Input shape: {h}x{w}, sensors: {", ".join(SENSORS)} (all present)')
    print(f'Params: {r["train"]["params"] / 1e6:.3f} M as trained, '
          f'{r["inference"]["params"] / 1e6:.3f} M re-parameterised')
    print(f'GFLOPs: {r["inference"]["flops"] / 1e9:.3f} '
          f'(as trained, with training branches: {r["train"]["flops"] / 1e9:.3f})')
    print('=' * 40)
    return 0


if __name__ == '__main__':
    sys.exit(main())
