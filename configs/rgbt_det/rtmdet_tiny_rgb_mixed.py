# RTMDet-tiny on RGB only (the model as published), with rtmdet_tiny_rgbt_mixed.py's recipe and
# frames, without the frames that have no colour image (LLVIP's thermal-only ones, the synthetic
# scenes whose colour camera failed) and without modality dropout: trained as a user would train an
# RGB detector.
_base_ = ['./rtmdet_tiny_rgbt_mixed.py']
model = dict(sensors=('rgb', ))


def _rgb(pipeline):
    steps = [t for t in pipeline if t['type'] not in ('ModalityDropout', 'KeepSensors')]
    return [dict(t, sensors=('rgb', )) if t['type'] == 'LoadMultiSensorSample' else t
            for t in steps]


train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.synthetic_train_dataset, pipeline=_rgb(_base_.synthetic_train_pipeline),
         conditions=['day', 'night', 'glare', 'fog', 'crossover', 'camouflage', 'depth_holes',
                     'no_thermal', 'no_depth']),
    dict(type='RepeatDataset', times=300,
         dataset=dict(_base_.msrs_train_dataset, pipeline=_rgb(_base_.msrs_train_pipeline))),
    dict(type='RepeatDataset', times=22,
         dataset=dict(_base_.llvip_train_dataset, ids=_base_.llvip_train_ids[:40],
                      pipeline=_rgb(_base_.llvip_train_pipeline)))]))
