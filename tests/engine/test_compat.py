"""perception.compat: mmengine checkpoints load with weights_only=True, nothing unsafe loads."""
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

import perception.registry  # noqa: F401  (applies the patches)


class _Tiny(BaseModel):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.lin(torch.stack(inputs))
        return {'loss': out.pow(2).mean()} if mode == 'loss' else out


def _runner(work_dir, max_iters, resume=False):
    data = [dict(inputs=torch.full((2, ), float(i))) for i in range(8)]
    return Runner(
        model=_Tiny(), work_dir=str(work_dir), resume=resume,
        train_dataloader=dict(dataset=data, batch_size=2, collate_fn=dict(type='pseudo_collate'),
                              sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        default_scope='mmengine')


STOCK_SAVE = textwrap.dedent('''
    import sys, torch
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('stock')
    hub.update_scalar('train/loss', 1.0)
    torch.save({'message_hub': hub.state_dict()}, sys.argv[1])
    try:
        torch.load(sys.argv[1], weights_only=True)
    except Exception as exc:
        print('REFUSED', type(exc).__name__)
''')


def test_stock_mmengine_checkpoint_is_refused_by_weights_only(tmp_path):
    """The problem being fixed: without the patch, torch.load(weights_only=True) refuses them."""
    out = subprocess.run([sys.executable, '-c', STOCK_SAVE, str(tmp_path / 'stock.pth')],
                         capture_output=True, text=True, check=True)
    assert 'REFUSED UnpicklingError' in out.stdout
    # ... and they stay refused with the patch: their pickle names builtins.getattr.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / 'stock.pth', weights_only=True)


def test_runner_checkpoint_loads_weights_only_and_resumes(tmp_path):
    _runner(tmp_path, max_iters=2).train()
    ckpt = torch.load(tmp_path / 'iter_2.pth', weights_only=True)
    history = ckpt['message_hub']['log_scalars']['train/loss']
    assert history.data[0].shape == (2, )  # the loss history survived the round trip
    runner = _runner(tmp_path, max_iters=4, resume=True)
    runner.train()  # mmengine's own resume path (torch.load with the default weights_only=True)
    assert runner.iter == 4


def test_arbitrary_code_is_not_executed(tmp_path):
    marker = tmp_path / 'pwned'

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    torch.save({'state_dict': {}, 'meta': Evil()}, tmp_path / 'evil.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / 'evil.pth', weights_only=True)
    assert not marker.exists()
