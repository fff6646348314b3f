"""MultiTaskMetric as a whole: registry/config, the mmengine Evaluator path, per-task skipping of
frames without a target, and group-by breakdowns."""
import math

import numpy as np
import pytest
from eval_frames import DET_CLASSES, SEG_CLASSES, make_sample
from mmengine.evaluator import Evaluator

from perception.evaluation import MultiTaskMetric
from perception.registry import METRICS
from perception.structures import MultiTaskDataSample

META = dict(seg_classes=SEG_CLASSES, det_classes=DET_CLASSES)


def evaluate(frames, **kw):
    metric = MultiTaskMetric(log_tables=False, **kw)
    metric.dataset_meta = META
    metric.process(None, frames)
    return metric.evaluate(len(frames))


def without(frame, field):
    out = dict(frame)
    del out[field]
    return out


def test_built_from_config_takes_classes_from_dataset_meta(frames):
    metric = METRICS.build(dict(type='MultiTaskMetric', group_by=('condition', ), log_tables=False))
    metric.dataset_meta = META
    metric.process(None, frames)
    out = metric.evaluate(len(frames))
    for key in ('seg/mIoU', 'seg/aAcc', 'seg/IoU.road', 'det/mAP', 'det/mAP_50', 'det/mAP_75',
                'depth/AbsRel', 'depth/RMSE', 'depth/delta1', 'seg/mIoU@night', 'det/mAP@fog'):
        assert key in out, key
    assert not any(math.isnan(out[k]) for k in ('seg/mIoU', 'det/mAP', 'depth/RMSE'))


def test_missing_class_names_are_reported():
    metric = MultiTaskMetric(tasks=('seg', ), log_tables=False)
    with pytest.raises(ValueError, match='seg_classes'):
        metric.process(None, [make_sample(np.random.default_rng(0), 0, det=False, depth=False)])


def test_mmengine_evaluator_passes_data_samples_as_dicts():
    """The real path: Evaluator calls `.to_dict()` on MultiTaskDataSample, metainfo at top level."""
    rng = np.random.default_rng(1)
    dicts = [make_sample(rng, i) for i in range(4)]
    samples = []
    for d in dicts:
        s = MultiTaskDataSample(metainfo={k: d[k] for k in ('img_id', 'condition', 'modality_mask')})
        for field in ('gt_sem_seg', 'pred_sem_seg', 'gt_instances', 'pred_instances', 'gt_depth',
                      'pred_depth'):
            setattr(s, field, _element(field, d[field]))
        samples.append(s)
    evaluator = Evaluator(dict(type='MultiTaskMetric', group_by=('condition', ), log_tables=False,
                               _scope_='perception'))
    evaluator.dataset_meta = META
    evaluator.process(samples)
    via_runner = evaluator.evaluate(len(samples))
    direct = evaluate(dicts, group_by=('condition', ))
    assert via_runner.keys() == direct.keys()
    assert all(np.isclose(via_runner[k], direct[k], equal_nan=True) for k in direct)


def _element(field, data):
    from mmengine.structures import InstanceData, PixelData
    return (InstanceData if 'instances' in field else PixelData)(**data)


@pytest.mark.parametrize('field,task', [('gt_sem_seg', 'seg'), ('gt_instances', 'det'),
                                        ('gt_depth', 'depth')])
def test_frame_without_target_is_skipped_for_that_task_only(frames, field, task):
    k = 4
    partial = frames[:k] + [without(frames[k], field)] + frames[k + 1:]
    rest = frames[:k] + frames[k + 1:]
    got, full, others = evaluate(partial), evaluate(frames), evaluate(rest)
    for key in got:
        expected = others[key] if key.startswith(task + '/') else full[key]
        assert got[key] == pytest.approx(expected, nan_ok=True), key
    assert got[f'{task}/num_samples'] == len(frames) - 1
    assert got[f'{task}/num_samples'] != full[f'{task}/num_samples']
    # the skip is visible: the frame did change this task's figure
    headline = f'{task}/' + {'seg': 'mIoU', 'det': 'mAP', 'depth': 'RMSE'}[task]
    assert got[headline] != full[headline]


def test_ground_truth_without_prediction_raises(frames):
    with pytest.raises(KeyError, match='pred_depth'):
        evaluate([without(frames[0], 'pred_depth')])


def test_task_without_any_target_reports_nan(frames):
    out = evaluate([without(f, 'gt_depth') for f in frames[:3]])
    assert out['depth/num_samples'] == 0 and math.isnan(out['depth/RMSE'])
    assert not math.isnan(out['seg/mIoU'])


def test_group_by_condition_equals_evaluating_each_group(frames):
    out = evaluate(frames, group_by=('condition', ))
    for cond in ('day', 'night', 'fog'):
        alone = evaluate([f for f in frames if f['condition'] == cond])
        for key in ('seg/mIoU', 'seg/aAcc', 'det/mAP', 'det/mAP_50', 'depth/AbsRel', 'depth/RMSE',
                    'depth/delta1', 'seg/num_samples'):
            assert out[f'{key}@{cond}'] == pytest.approx(alone[key], nan_ok=True), (key, cond)
    assert 'seg/IoU.road@day' not in out  # per-class figures stay overall
    assert len({out[f'seg/mIoU@{c}'] for c in ('day', 'night', 'fog')}) == 3


def test_group_by_modality_subset_names_the_sensors():
    rng = np.random.default_rng(2)
    masks = [(True, True, True), (True, True, False), (False, True, False), (True, True, False)]
    frames = [make_sample(rng, i, modality_mask=m) for i, m in enumerate(masks)]
    out = evaluate(frames, group_by=('modality_mask', 'condition'))
    assert out['seg/num_samples@rgb+thermal'] == 2
    assert out['seg/num_samples@rgb+thermal+depth'] == 1
    assert out['depth/num_samples@thermal'] == 1
    assert out['seg/num_samples@day'] == 2  # frames 0 and 3


def test_shared_group_values_do_not_merge():
    rng = np.random.default_rng(3)
    frames = [make_sample(rng, 0, condition='a'), make_sample(rng, 1, condition='b')]
    frames[0]['weather'], frames[1]['weather'] = 'b', 'b'
    out = evaluate(frames, tasks=('seg', ), group_by=('condition', 'weather'))
    assert out['seg/num_samples@b'] == 1 and out['seg/num_samples@weather=b'] == 2


def test_invalid_config():
    with pytest.raises(ValueError, match='tasks'):
        MultiTaskMetric(tasks=('seg', 'normals'))
    with pytest.raises(ValueError, match='depth_average'):
        MultiTaskMetric(depth_average='median')


def test_reduced_precision_and_element_inputs():
    """bf16/fp16 maps (AMP inference) and unconverted data elements are read like the dict form."""
    import torch
    from mmengine.structures import PixelData
    gt = torch.tensor([[[2.0, 4.0]]])
    frame = dict(gt_depth=PixelData(data=gt), pred_depth=dict(data=(gt * 1.1).bfloat16()))
    out = evaluate([frame], tasks=('depth', ))
    assert out['depth/AbsRel'] == pytest.approx(0.1, abs=2e-3)  # bf16 keeps ~3 digits
    assert out['depth/delta1'] == 1.0
