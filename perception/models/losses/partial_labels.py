"""Partial detection labels: a sample trains only the classes its dataset labels.

A dataset that labels some classes only (LLVIP: person) holds objects of the others without boxes; a
detection loss that read those images as "no car here" would teach the detector that its unlabelled
cars are background. Each sample's ``det_labelled`` metainfo (the model's class indices its dataset
labels, set by ``MultiSensorDataset`` from the config's ``det_classes`` / ``det_class_map``; absent =
every class) becomes a (B, C) mask, and the classification scores of the unlabelled classes of that
sample are detached before the loss: their loss terms stay in the logged value but give no gradient.
This works for any mmdet dense head (QualityFocal, focal, BCE), whose loss reads the class scores of
every prior, and leaves the assigner's matching (which reads the labelled gt class) unchanged.
"""
from __future__ import annotations

from typing import List, Sequence

import torch
from torch import Tensor

from perception.contract import DET_LABELLED


def labelled_classes(samples: Sequence, num_classes: int, device=None) -> Tensor:
    """(B, C) bool: which of the model's ``num_classes`` detection classes each sample's dataset
    labels (its ``det_labelled`` metainfo; all when absent).

    Raises:
        ValueError: a ``det_labelled`` index outside ``0..num_classes - 1``.
    """
    mask = torch.ones(len(samples), num_classes, dtype=torch.bool, device=device)
    for i, sample in enumerate(samples):
        labelled = sample.metainfo.get(DET_LABELLED)
        if labelled is None:
            continue
        labelled = [int(c) for c in labelled]
        bad = [c for c in labelled if not 0 <= c < num_classes]
        if bad:
            raise ValueError(f'sample {sample.metainfo.get("img_id", i)}: det_labelled {labelled} '
                             f'has classes {bad} outside the model\'s {num_classes}')
        mask[i] = False
        mask[i, labelled] = True
    return mask


def stop_unlabelled(cls_scores: List[Tensor], labelled: Tensor) -> List[Tensor]:
    """The per-level class scores (B, C, H, W) with the unlabelled classes of each sample detached
    (same values, no gradient). A batch where every class is labelled is returned as it is."""
    if bool(labelled.all()):
        return list(cls_scores)
    keep = labelled[:, :, None, None]
    return [torch.where(keep.to(x.device), x, x.detach()) for x in cls_scores]
