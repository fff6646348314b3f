# The zero-shot row of docs/real_rgbt.md: the mixed recipe's model, schedule and synthetic data, with
# no real frame in training (tested on the same real MSRS validation frames).
_base_ = ['./nano_rgbt_mixed.py']
train_dataloader = dict(dataset=dict(_base_.synthetic_train_dataset, _delete_=True))
