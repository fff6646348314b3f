"""Write the real RGB-thermal box sets of ``../shared/data/real/rgbt_det`` into the generic layout
(docs/data.md): what a user with their own RGB-thermal robot data would have -- ``rgb/``,
``thermal/``, COCO boxes, no depth anywhere.

    python tools/rgbt_det_to_generic.py --out data/rgbt_generic

writes ``OUT/msrs`` (person, bicycle, car; day and night) and ``OUT/llvip`` (person only: a dataset
that labels one class), each with the train/val split of ``configs/rgbt_det/_base_/rgbt_real_data.py``
(``splits/train.txt``, ``splits/val.txt``). ``configs/rgbt_det/nano_generic_rgbt_det.py`` trains on
them. Frames are copied at their own size; thermal is stored as 16-bit PNG (``u16_unit``), exact for
the 8-bit sources.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write(dataset, root: Path, name: str, classes, val_ids, log=print) -> int:
    """Write every frame of ``dataset`` (decoded with its boxes) into a generic layout at ``root``."""
    from perception.datasets import GenericLayoutWriter
    meta = dict(name=name, seg_classes=[], det_classes=list(classes), palette=None,
                encodings=dict(rgb='rgb8', thermal='u16_unit', depth=None, gt_depth=None))
    with GenericLayoutWriter(root, meta) as writer:
        for i in range(len(dataset)):
            sample = dataset.load_sample(i)
            img_id = sample['img_id']
            sample.pop('det_labelled', None)
            writer.write(img_id, sample, split='val' if img_id in val_ids else 'train')
    log(f'{name}: {len(dataset)} frames -> {root}')
    return len(dataset)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, type=Path, help='output folder')
    parser.add_argument('--real-root', type=Path, default=None,
                        help='the real samples (default: PERCEPTION_REAL_DATA or ../shared/data/real)')
    args = parser.parse_args(argv)
    from mmengine.config import Config

    import perception.datasets  # noqa: F401  (registers the datasets)
    from perception.datasets import LLVIPDataset, MSRSDetDataset
    from perception.paths import REPO_ROOT, real_data_root
    root = (args.real_root or real_data_root()) / 'rgbt_det'
    split = Config.fromfile(str(REPO_ROOT / 'configs/rgbt_det/_base_/rgbt_real_data.py'))
    msrs = MSRSDetDataset(str(root / 'msrs'))
    write(msrs, args.out / 'msrs', 'msrs_rgbt_det', msrs.metainfo['det_classes'],
          set(split.msrs_val_ids))
    llvip = LLVIPDataset(str(root / 'llvip'), split='train',
                         ids=split.llvip_train_ids + split.llvip_val_ids)
    write(llvip, args.out / 'llvip', 'llvip_person', llvip.metainfo['det_classes'],
          set(split.llvip_val_ids))
    return 0


if __name__ == '__main__':
    sys.exit(main())
