"""Expert-specialisation analysis: gate maps per task/level, usage rows that sum to one, a picture."""
import numpy as np
import torch

from perception.analysis_gates import dominant_slot_picture, format_usage, gate_maps, usage_table
from perception.models import build_model, dummy_inputs


def test_gate_maps_usage_and_picture():
    torch.manual_seed(0)
    model = build_model('configs/_base_/models/nano.py').eval()
    inputs = {k: t.numpy() for k, t in zip(('rgb', 'thermal', 'depth', 'modality_mask'),
                                           dummy_inputs(64, 96))}
    maps = gate_maps(model, inputs)
    tasks = {t for t, _ in maps}
    assert tasks == {'seg', 'det', 'depth'}
    for (task, stride), g in maps.items():
        assert g.shape[0] == 5 and g.shape[1:] == (64 // stride, 96 // stride), (task, stride)
        np.testing.assert_allclose(g.sum(axis=0), 1.0, atol=1e-5)   # softmax over E + memory
    table = usage_table([maps, maps])
    for w in table.values():
        assert abs(w.sum() - 1.0) < 1e-5
    text = format_usage(table)
    assert '| memory |' in text and text.count('\n') == len(table) + 1
    picture = dominant_slot_picture(maps, (32, 48))
    assert picture.shape == (3 * 32, len({s for _, s in maps}) * 48, 3)
