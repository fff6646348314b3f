"""A tiny stand-in that implements the model's export contract (``forward_export``) exactly.

Why keep it next to the real nano model: it is fast to build, has known output shapes and a dense
detection head with heavily overlapping boxes (so NMS has work), and tests that must not depend on the
model package's internals (NMS tails, parity failure detection) use it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TinyPerceptor(nn.Module):
    """rgb/thermal/depth (normalised) -> seg logits, decoded det boxes + sigmoid scores, depth (m)."""

    def __init__(self, num_seg: int = 5, num_det: int = 3, width: int = 8, strides=(8, 16)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(5, width, 3, 2, 1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, 2, 1), nn.ReLU())
        self.seg = nn.Conv2d(width, num_seg, 1)
        self.depth = nn.Conv2d(width, 1, 1)
        self.cls = nn.Conv2d(width, num_det, 3, 1, 1)
        self.reg = nn.Conv2d(width, 4, 3, 1, 1)
        self.strides = strides
        self.dataset_meta = dict(seg_classes=tuple(f'seg{i}' for i in range(num_seg)),
                                 det_classes=tuple(f'det{i}' for i in range(num_det)))

    def forward_export(self, rgb, thermal, depth, modality_mask):
        h, w = rgb.shape[-2:]
        x = self.stem(torch.cat([rgb, thermal, depth], 1))          # stride 4
        seg = F.interpolate(self.seg(x), size=(h, w), mode='bilinear', align_corners=False)
        depth_pred = F.interpolate(F.softplus(self.depth(x)) + 0.1, size=(h, w), mode='bilinear',
                                   align_corners=False)
        boxes, scores = [], []
        for s in self.strides:
            f = F.avg_pool2d(x, s // 4)
            fh, fw = f.shape[-2:]
            ys, xs = torch.meshgrid(torch.arange(fh, dtype=f.dtype), torch.arange(fw, dtype=f.dtype),
                                    indexing='ij')
            cx, cy = ((xs + 0.5) * s).reshape(1, -1), ((ys + 0.5) * s).reshape(1, -1)
            dist = (self.reg(f).flatten(2).exp() * 2 * s)            # (B, 4, N) l, t, r, b
            boxes.append(torch.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2],
                                      cy + dist[:, 3]], -1))
            scores.append(self.cls(f).flatten(2).transpose(1, 2).sigmoid())
        return dict(seg_logits=seg, det_boxes=torch.cat(boxes, 1), det_scores=torch.cat(scores, 1),
                    depth_pred=depth_pred)
