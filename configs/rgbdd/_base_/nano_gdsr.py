# Guided depth super-resolution on RGB-D-D: nano with its depth task only (GuidedDepthHead), trained
# on the 236 training frames. The x4/x8/x16 configs beside this folder set the scale.
_base_ = ['./nano_guided.py', './rgbdd_gdsr_data.py', './schedule_1000.py',
          '../../_base_/default_runtime.py']
# RGB-D-D has colour and depth only: the model is built for those two (no thermal encoder or input).
model = dict(sensors=('rgb', 'depth'), tasks=('depth', ),
             task_weighting=dict(_delete_=True, type='FixedTaskWeighting', weights=dict(depth=1.0)))
# Data made in the training process: faster than a loader worker on 2 cores (docs/training.md).
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=_base_.rgbdd_train_dataset)
val_dataloader = _base_.rgbdd_val_dataloader
test_dataloader = _base_.rgbdd_val_dataloader
val_evaluator = _base_.rgbdd_evaluator
test_evaluator = _base_.rgbdd_evaluator
# One checkpoint, at the end (the configs say what they compare; no best-of selection on val).
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=100000, max_keep_ckpts=1, save_best=None))
# Network size of the Predictor (`perception infer --model CONFIG`): RGB-D-D's frames as stored.
input_size = (384, 512)
