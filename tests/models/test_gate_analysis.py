"""Expert-specialisation analysis: gate maps per task/level, usage rows that sum to one, a picture."""
import numpy as np
import pytest
import torch

from perception.studies.gate_analysis import format_usage, gate_maps, usage_table
from perception.visualization.gates import dominant_slot_picture
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


def _frame(usage_by_task, h=4, w=4):
    """Gate maps with the same slot weights at every pixel (per task), two strides."""
    return {(t, s): np.broadcast_to(np.asarray(u, float)[:, None, None], (len(u), h, w)).copy()
            for t, u in usage_by_task.items() for s in (8, 16)}


def test_specialisation_statistics():
    from perception.studies.gate_analysis import specialisation
    uniform = [0.2] * 5
    even = specialisation([_frame({'seg': uniform, 'depth': uniform})])
    for stats in even['per_task_level'].values():
        assert stats['usage_entropy'] == pytest.approx(1.0)
        assert stats['pixel_entropy'] == pytest.approx(1.0)
    assert even['task_divergence'] == {'s8': pytest.approx(0.0, abs=1e-9),
                                       's16': pytest.approx(0.0, abs=1e-9)}
    # each task puts everything on its own expert: collapsed per task, maximally divergent
    hard = specialisation([_frame({'seg': [1, 0, 0, 0, 0], 'depth': [0, 1, 0, 0, 0]})])
    for stats in hard['per_task_level'].values():
        assert stats['usage_entropy'] == pytest.approx(0.0, abs=1e-6)
        assert stats['pixel_entropy'] == pytest.approx(0.0, abs=1e-6)
        assert stats['max_share'] == pytest.approx(1.0)
    assert hard['task_divergence']['s8'] == pytest.approx(np.log(2), rel=1e-6)
    # sharp per pixel but balanced on average: half the pixels expert 0, half expert 1
    g = np.zeros((5, 4, 4))
    g[0, :2], g[1, 2:] = 1.0, 1.0
    mixed = specialisation([{('seg', 8): g}])['per_task_level']['seg_s8']
    assert mixed['pixel_entropy'] == pytest.approx(0.0, abs=1e-6)
    assert mixed['usage_entropy'] == pytest.approx(np.log(2) / np.log(5))
