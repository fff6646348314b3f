"""Parity of an exported graph against the PyTorch model: per-frame figures, thresholds, a loud failure.

Both sides get the very same pre-processed inputs. Compared per frame:

* segmentation: fraction of pixels whose label agrees (threshold: >= 99.9 %);
* depth: max relative error |test - ref| / max(|ref|, 1 mm) (threshold: 1e-3), and max absolute error;
* detection (after the same NMS/thresholds on both sides): greedy same-class matching by IoU; reported
  are matched count, min/mean IoU and the max score difference. A detection without a partner fails the
  check unless it is *borderline* -- its score within ``det_score_atol`` of the score threshold, or of
  the lowest kept score when all K slots are full -- because float noise may legitimately flip those.
  Two near-equal overlapping boxes of which NMS keeps the other one still match (IoU >= ``det_iou``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

from perception.apis.nms import pairwise_iou
from perception.apis.postprocess import Thresholds, detections, seg_labels_of
from perception.apis.spec import ModelSpec

Raw = Dict[str, np.ndarray]
Runner = Callable[[Dict[str, np.ndarray]], Raw]


class ParityError(RuntimeError):
    """The exported graph does not reproduce the PyTorch model; ``.report`` holds the figures."""

    def __init__(self, report: 'ParityReport'):
        self.report = report
        super().__init__('export parity check FAILED:\n' + report.format())


@dataclass(frozen=True)
class ParityThresholds:
    seg_agreement: float = 0.999
    depth_max_rel: float = 1e-3
    depth_rel_floor_m: float = 1e-3
    det_iou: float = 0.5
    det_score_atol: float = 1e-3
    det_box_atol_px: float = 0.5


@dataclass
class FrameParity:
    name: str
    seg_agreement: Optional[float] = None
    depth_max_rel: Optional[float] = None
    depth_max_abs_m: Optional[float] = None
    det_ref: int = 0
    det_test: int = 0
    det_matched: int = 0
    det_min_iou: Optional[float] = None
    det_mean_iou: Optional[float] = None
    det_max_score_diff: Optional[float] = None
    det_unexplained: int = 0
    failures: List[str] = field(default_factory=list)


@dataclass
class ParityReport:
    frames: List[FrameParity]
    thresholds: ParityThresholds
    label: str = ''

    @property
    def passed(self) -> bool:
        return bool(self.frames) and not any(f.failures for f in self.frames)

    def summary(self) -> Dict[str, float]:
        """Worst case over frames (what the release note quotes)."""
        def worst(key, fn):
            vals = [getattr(f, key) for f in self.frames if getattr(f, key) is not None]
            return fn(vals) if vals else None
        return {
            'frames': len(self.frames),
            'seg_agreement_min': worst('seg_agreement', min),
            'depth_max_rel': worst('depth_max_rel', max),
            'depth_max_abs_m': worst('depth_max_abs_m', max),
            'det_ref': sum(f.det_ref for f in self.frames),
            'det_matched': sum(f.det_matched for f in self.frames),
            'det_min_iou': worst('det_min_iou', min),
            'det_max_score_diff': worst('det_max_score_diff', max),
            'det_unexplained': sum(f.det_unexplained for f in self.frames),
            'passed': self.passed,
        }

    def to_dict(self) -> dict:
        return {'label': self.label, 'thresholds': asdict(self.thresholds),
                'summary': self.summary(), 'frames': [asdict(f) for f in self.frames]}

    def format(self) -> str:
        def fmt(v, spec):
            return '-' if v is None else format(v, spec)
        lines = [f'parity {self.label}: {"PASSED" if self.passed else "FAILED"} '
                 f'({len(self.frames)} frames)',
                 f'  {"frame":28s} {"seg agree":>10s} {"depth rel":>10s} {"dets":>9s} '
                 f'{"min IoU":>8s} {"max dscore":>10s}']
        for f in self.frames:
            lines.append(f'  {f.name[:28]:28s} {fmt(f.seg_agreement, ".5%"):>10s} '
                         f'{fmt(f.depth_max_rel, ".2e"):>10s} '
                         f'{f"{f.det_matched}/{f.det_ref}":>9s} {fmt(f.det_min_iou, ".4f"):>8s} '
                         f'{fmt(f.det_max_score_diff, ".2e"):>10s}')
            lines.extend(f'    ! {msg}' for msg in f.failures)
        return '\n'.join(lines)


def match_detections(ref, test, thr: ParityThresholds):
    """Greedy same-class IoU matching, highest reference score first."""
    (rb, rs, rl), (tb, _, tl) = ref, test
    iou = pairwise_iou(rb, tb) if len(rb) and len(tb) else np.zeros((len(rb), len(tb)))
    iou = np.where(rl[:, None] == tl[None, :], iou, 0.0)
    pairs, used = [], set()
    for i in np.argsort(-rs, kind='stable'):
        cand = [(iou[i, j], j) for j in range(len(tb)) if j not in used and iou[i, j] >= thr.det_iou]
        if cand:
            best, j = max(cand)
            used.add(j)
            pairs.append((int(i), int(j), float(best)))
    return pairs


def _borderline(score: float, kept: np.ndarray, full: bool, t: Thresholds,
                thr: ParityThresholds) -> bool:
    near_thr = abs(score - t.score_thr) <= thr.det_score_atol
    near_cut = full and len(kept) and score <= float(kept.min()) + thr.det_score_atol
    return bool(near_thr or near_cut)


def compare_frame(name: str, ref: Raw, test: Raw, spec_ref: ModelSpec, spec_test: ModelSpec,
                  t: Thresholds, thr: ParityThresholds, index: int = 0) -> FrameParity:
    out = FrameParity(name)
    ref_lab, test_lab = seg_labels_of(ref, index), seg_labels_of(test, index)
    if (ref_lab is None) != (test_lab is None):
        out.failures.append('segmentation output present on one side only')
    elif ref_lab is not None:
        out.seg_agreement = float(np.mean(ref_lab == test_lab))
        if out.seg_agreement < thr.seg_agreement:
            out.failures.append(f'seg labels agree on {out.seg_agreement:.4%} of pixels '
                                f'< {thr.seg_agreement:.2%}')
    if ('depth_pred' in ref) != ('depth_pred' in test):
        out.failures.append('depth output present on one side only')
    elif 'depth_pred' in ref:
        r, s = ref['depth_pred'][index].astype(np.float64), test['depth_pred'][index].astype(np.float64)
        err = np.abs(s - r)
        out.depth_max_abs_m = float(err.max())
        out.depth_max_rel = float((err / np.maximum(np.abs(r), thr.depth_rel_floor_m)).max())
        if not math.isfinite(out.depth_max_rel) or out.depth_max_rel > thr.depth_max_rel:
            out.failures.append(f'depth max relative error {out.depth_max_rel:.3e} '
                                f'> {thr.depth_max_rel:.1e}')
    if spec_ref.has_det != spec_test.has_det:
        out.failures.append('detection output present on one side only')
    elif spec_ref.has_det:
        _compare_dets(out, detections(ref, spec_ref, t, index), detections(test, spec_test, t, index),
                      t, thr)
    return out


def _compare_dets(out: FrameParity, ref, test, t: Thresholds, thr: ParityThresholds) -> None:
    pairs = match_detections(ref, test, thr)
    out.det_ref, out.det_test, out.det_matched = len(ref[1]), len(test[1]), len(pairs)
    if pairs:
        ious = [p[2] for p in pairs]
        out.det_min_iou, out.det_mean_iou = float(min(ious)), float(np.mean(ious))
        out.det_max_score_diff = float(max(abs(ref[1][i] - test[1][j]) for i, j, _ in pairs))
        if out.det_max_score_diff > thr.det_score_atol:
            out.failures.append(f'matched detection scores differ by {out.det_max_score_diff:.2e} '
                                f'> {thr.det_score_atol:.0e}')
    for side, dets, matched in (('reference', ref, {p[0] for p in pairs}),
                                ('exported', test, {p[1] for p in pairs})):
        scores = dets[1]
        full = len(scores) >= t.max_det
        for k in set(range(len(scores))) - matched:
            if not _borderline(float(scores[k]), scores, full, t, thr):
                out.det_unexplained += 1
    if out.det_unexplained:
        out.failures.append(f'{out.det_unexplained} detection(s) without a partner (IoU >= '
                            f'{thr.det_iou}) that are not borderline ({out.det_matched} matched, '
                            f'{out.det_ref} reference, {out.det_test} exported)')


def check_parity(reference: Runner, candidate: Runner, frames: Iterable[Tuple[str, Dict]],
                 spec_ref: ModelSpec, spec_test: ModelSpec, t: Optional[Thresholds] = None,
                 thresholds: Optional[ParityThresholds] = None, label: str = '',
                 raise_on_fail: bool = True) -> ParityReport:
    """Run both sides on every ``(name, inputs)``; each item of a batched input is one frame."""
    thr = thresholds or ParityThresholds()
    t = t or Thresholds.from_spec(spec_test)
    results = []
    for name, inputs in frames:
        ref, test = reference(inputs), candidate(inputs)
        batch = inputs['modality_mask'].shape[0]
        for b in range(batch):
            results.append(compare_frame(name if batch == 1 else f'{name}[{b}]', ref, test,
                                         spec_ref, spec_test, t, thr, b))
    report = ParityReport(results, thr, label)
    if raise_on_fail and not report.passed:
        raise ParityError(report)
    return report
