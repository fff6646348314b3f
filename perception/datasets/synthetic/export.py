"""Write synthetic samples to disk in the generic layout (docs/data.md), through the layout writer.

Files are ``<split>_<index>`` (7 digits), so train/val/test can share one folder; each split also
gets ``splits/<split>.txt``. The condition of each sample is stored in the COCO image entry and
reads back as the sample's ``condition``. A dropped sensor simply has no file for that sample.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Tuple, Union

from ..writer import GenericLayoutWriter
from .classes import DET_CLASSES, PALETTE, SEG_CLASSES
from .generator import STORAGE, ConditionSpec, generate_sample

META = dict(name='synthetic_rgbtd', seg_classes=list(SEG_CLASSES), det_classes=list(DET_CLASSES),
            palette=[list(c) for c in PALETTE], encodings=dict(rgb='rgb8', **STORAGE))


@dataclass
class WriteSummary:
    count: int = 0
    seconds: float = 0.0
    per_condition: Dict[str, int] = field(default_factory=dict)

    @property
    def samples_per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float('nan')

    def __str__(self) -> str:
        conds = ', '.join(f'{k} {v}' for k, v in sorted(self.per_condition.items()))
        return (f'{self.count} samples in {self.seconds:.1f} s ({self.samples_per_s:.1f} samples/s '
                f'incl. PNG writing); conditions: {conds}')


def sample_id(split: str, index: int) -> str:
    return f'{split}_{index:07d}'


def write_dataset(out: Union[str, Path], num: int, seed: int = 0, split: str = 'train',
                  img_size: Tuple[int, int] = (256, 320), conditions: ConditionSpec = None,
                  start: int = 0, progress: Optional[Callable[[Iterable], Iterable]] = None
                  ) -> WriteSummary:
    """Generate samples ``start .. start+num-1`` of ``split`` and write them under ``out``.

    ``progress`` wraps the index iterator (e.g. ``tqdm``); appending to an existing folder works.
    """
    summary, counts = WriteSummary(), Counter()
    t0 = time.perf_counter()
    indices = range(start, start + num)
    with GenericLayoutWriter(out, META) as writer:
        for i in (progress(indices) if progress else indices):
            sample = generate_sample(i, seed, split, img_size, conditions)
            writer.write(sample_id(split, i), sample, split=split)
            counts[sample['condition']] += 1
    summary.count, summary.per_condition = num, dict(counts)
    summary.seconds = time.perf_counter() - t0
    return summary
