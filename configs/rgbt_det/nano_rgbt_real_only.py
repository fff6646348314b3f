# The real-only row of docs/real_rgbt.md: nano (RGB + thermal) trained on the real MSRS + LLVIP
# boxes alone (detection only: the real frames carry no other target), same schedule and crops as
# the mixed recipe.
_base_ = ['./nano_rgbt_mixed.py']
model = dict(tasks=('det', ), sensor_aux=None,
             task_weighting=dict(_delete_=True, type='FixedTaskWeighting', weights=dict(det=1.0)))
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset', ignore_keys=['seg_classes', 'palette', 'dataset_name'],
    datasets=[dict(type='RepeatDataset', times=300, dataset=_base_.msrs_train_dataset),
              dict(type='RepeatDataset', times=22, dataset=_base_.llvip_train_dataset)]))
