"""The exported model runs with the deployment extra only: torch and the OpenMMLab stack blocked."""
import json
import subprocess
import sys

from perception.paths import REPO_ROOT

from deploy_helpers import NANO_SIZE

BLOCKED = ('torch', 'torchvision', 'mmcv', 'mmdet', 'mmseg', 'mmengine')

SCRIPT = r'''
import importlib.abc, json, sys
BLOCKED = {blocked!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{{name}} is blocked: the deployment path must not import it')
        return None

sys.meta_path.insert(0, Block())
import numpy as np
from perception import Predictor
p = Predictor({model!r})
h, w = p.spec.input_size
rng = np.random.default_rng(0)
rgb = rng.integers(0, 255, (h + 7, w + 13, 3), dtype=np.uint8)
thermal = rng.uniform(0, 1, (h + 7, w + 13)).astype(np.float32)
r1 = p(rgb=rgb, thermal=thermal)
r2 = p(depth=np.full((h, w), 3.0, np.float32))
try:
    import torch
    blocked_ok = False
except ImportError:
    blocked_ok = True
print(json.dumps(dict(
    seg=list(r1.seg_labels.shape), depth=list(r1.depth.shape), dets=r1.num_detections,
    seg2=list(r2.seg_labels.shape), depth2=list(r2.depth.shape),
    mask=list(r2.modality_mask), blocked_ok=blocked_ok,
    heavy=[m for m in sys.modules if m.split('.')[0] in BLOCKED])))
'''


def test_onnx_predictor_runs_without_torch_or_openmmlab(nano_export):
    code = SCRIPT.format(blocked=BLOCKED, model=str(nano_export['onnx']))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['blocked_ok'] and out['heavy'] == []
    h, w = NANO_SIZE           # the export's input size; the frames are larger, or that size
    assert out['seg'] == out['depth'] == [h + 7, w + 13]      # results at the frame's size
    assert out['seg2'] == out['depth2'] == [h, w]
    assert out['mask'] == [False, False, True]


def test_the_blocker_really_blocks():
    """Guard against a vacuous pass: the same harness fails for a torch-backed predictor."""
    code = SCRIPT.format(blocked=BLOCKED, model=str(REPO_ROOT / 'configs/_base_/models/nano.py'))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)
    assert proc.returncode != 0 and 'is blocked' in proc.stderr
