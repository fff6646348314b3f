"""Partial detection labels: a sample whose dataset labels only some classes (``det_labelled``) trains
those classes only -- its other classes' scores get exactly no gradient -- in MultiTaskPerceptor's
detection head and in the OpenMMLab peers (LibraryModel), while a sample without the key trains every
class."""
import pytest
import torch

from perception.contract import DET_LABELLED
from perception.models.losses.partial_labels import labelled_classes, stop_unlabelled

from model_helpers import DET_CLASSES, initialised_model, make_batch, make_sample, tiny_model_cfg


def _with_labelled(sample, labelled):
    if labelled is not None:
        sample[1].set_metainfo({DET_LABELLED: tuple(labelled)})
    return sample


def test_labelled_classes_mask():
    samples = [_with_labelled(make_sample(seed=i), lab)[1]
               for i, lab in enumerate([None, (0, ), (0, 2)])]
    mask = labelled_classes(samples, 3)
    assert mask.tolist() == [[True, True, True], [True, False, False], [True, False, True]]
    with pytest.raises(ValueError, match='outside'):
        labelled_classes([_with_labelled(make_sample(), (3, ))[1]], 3)


def test_stop_unlabelled_keeps_values_and_cuts_gradients():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    mask = torch.tensor([[True, True, True], [True, False, True]])
    (y, ) = stop_unlabelled([x], mask)
    assert torch.equal(y, x)
    y.sum().backward()
    assert (x.grad[1, 1] == 0).all() and (x.grad[1, [0, 2]] == 1).all() and (x.grad[0] == 1).all()


def _class_grads(model, labelled):
    """Gradient of the detection loss w.r.t. each sample's class scores, summed per class."""
    model.train()
    samples = [_with_labelled(make_sample(seed=i), lab) for i, lab in enumerate(labelled)]
    data = model.data_preprocessor(make_batch(samples), True)
    from perception.models.sensor_inputs import batch_sensor_args
    raw, *_ = model._run(*batch_sensor_args(data['inputs'], model.sensors))
    scores = raw['det'][0]
    for s in scores:
        s.retain_grad()
    losses = model.heads['det'].loss(raw['det'], data['data_samples'], range(len(samples)))
    losses['loss_cls'].backward()
    return torch.stack([s.grad.abs().sum((2, 3)) for s in scores]).sum(0)   # (B, C)


def test_unlabelled_classes_of_a_sample_get_no_gradient():
    model = initialised_model(tiny_model_cfg())
    grads = _class_grads(model, [None, (0, ), (0, 2)])
    assert (grads[0] > 0).all()                          # every class trained
    assert grads[1, 0] > 0 and (grads[1, 1:] == 0).all()    # person only (LLVIP)
    assert grads[2, 0] > 0 and grads[2, 2] > 0 and grads[2, 1] == 0


def test_the_peers_train_with_the_same_partial_labels():
    from perception.benchmark.runners import RTMDET_TINY
    from perception.models import build_model
    torch.manual_seed(0)
    model = build_model(dict(type='LibraryModel', config=RTMDET_TINY, num_classes=DET_CLASSES,
                             sensors=('rgb', 'thermal')))
    model.init_weights()
    model.train()
    head = model.model.bbox_head
    captured = []
    original = head.forward

    def spy(*args, **kw):    # the head's own class scores, before the loss sees them
        outs = original(*args, **kw)
        for s in outs[0]:
            s.retain_grad()
        captured.extend(outs[0])
        return outs
    head.forward = spy
    samples = [_with_labelled(make_sample(seed=i), lab) for i, lab in enumerate([None, (0, )])]
    data = model.data_preprocessor(make_batch(samples), True)
    losses = model(**data, mode='loss')
    sum(sum(v) if isinstance(v, list) else v for k, v in losses.items() if 'cls' in k).backward()
    grads = torch.stack([s.grad.abs().sum((2, 3)) for s in captured]).sum(0)
    assert (grads[0] > 0).all()
    assert grads[1, 0] > 0 and (grads[1, 1:] == 0).all()
