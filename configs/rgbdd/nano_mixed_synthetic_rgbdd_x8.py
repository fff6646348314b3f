# Mixed real + synthetic training with partial labels (docs/real_rgbd.md): the synthetic scenes (all
# three tasks, all sensors) and RGB-D-D at x8 (depth labels only, no thermal) in one run, half of
# the samples from each; each head's loss is computed on the samples that carry its target
# (MultiTaskDataSample.has_target, docs/training.md "Partial labels"). Same model and schedule as
# nano_synthetic_guided.py (synthetic only) and nano_rgbdd_gdsr_x8.py (RGB-D-D only).
# The test set here is RGB-D-D validation at x8; the synthetic test set is scored with
# `perception test configs/rgbdd/nano_synthetic_guided.py CKPT`.
_base_ = ['./nano_synthetic_guided.py', './_base_/rgbdd_gdsr_data.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset',
    # class names and palettes differ (RGB-D-D has none); the model does not read them
    ignore_keys=['seg_classes', 'det_classes', 'palette'],
    datasets=[
        dict(_base_.train_dataloader.dataset, num_samples=236 * 212),
        dict(type='RepeatDataset', times=212, dataset=_base_.rgbdd_train_dataset),   # 236 frames x 212
    ]))
val_dataloader = dict(_base_.rgbdd_val_dataloader, _delete_=True)
test_dataloader = val_dataloader
val_evaluator = dict(_base_.rgbdd_evaluator, _delete_=True)
test_evaluator = val_evaluator
# Network size of the Predictor and of `perception export`: RGB-D-D's frames as stored, the set it is
# tested on (nano_rgbdd_gdsr_x*.py have the same; the synthetic base's 256x320 is the other source's).
input_size = (384, 512)
