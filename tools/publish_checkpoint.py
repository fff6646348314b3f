#!/usr/bin/env python
"""Strip a training checkpoint to weights + plain metadata, the file to share with users.

    python tools/publish_checkpoint.py work_dirs/demo/iter_2000.pth nano_demo.pth
"""
import argparse
import os

from perception.models.checkpoint import make_release_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('src', help='training checkpoint (.pth)')
    p.add_argument('dst', help='release checkpoint to write')
    p.add_argument('--trust-source', action='store_true',
                   help='read SRC with full pickle loading (only for files from a source you trust, '
                        'e.g. written by stock mmengine elsewhere); the output is always safe')
    args = p.parse_args()
    release = make_release_checkpoint(args.src, args.dst, trust_source=args.trust_source)
    size = os.path.getsize(args.dst) / 2**20
    print(f'wrote {args.dst}: {len(release["state_dict"])} tensors, {size:.1f} MiB, '
          'loads with torch.load(weights_only=True)')


if __name__ == '__main__':
    main()
