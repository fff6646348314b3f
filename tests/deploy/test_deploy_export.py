"""ONNX export: checker, parity figures within thresholds, metadata, NMS modes, loud failures."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from perception.apis.spec import ModelSpec
from perception.contract import INPUT_NAMES
from perception.deploy.onnx_export import ExportOptions, export_onnx
from perception.deploy.parity import ParityError, ParityThresholds

from deploy_helpers import NANO_CONFIG, NANO_SIZE, TINY_SIZE


def test_nano_export_passes_checker_and_parity(nano_export):
    model = onnx.load(str(nano_export['onnx']))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == list(INPUT_NAMES)
    assert [o.name for o in model.graph.output] == ['seg_labels', 'det_boxes', 'det_scores',
                                                    'det_labels', 'depth_pred']
    assert max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')) == 17
    # static H, W and batch
    for i in model.graph.input:
        dims = [d.dim_value for d in i.type.tensor_type.shape.dim]
        assert dims[0] == 1 and all(d > 0 for d in dims)
    parity = nano_export['report']['export']['parity']
    assert set(parity) == {'network (host graph)', 'final graph with ONNX NonMaxSuppression'}
    for report in parity.values():   # the documented bounds (docs/deployment.md), as literals
        figures = report['summary']
        assert figures['passed'] and figures['frames'] >= 1   # real frames: the test below
        assert figures['seg_agreement_min'] >= 0.999
        assert figures['depth_max_rel'] <= 1e-3
        assert figures['det_unexplained'] == 0
        assert figures['det_max_score_diff'] <= 1e-3
        assert figures['det_matched'] > 0


def test_parity_thresholds_are_the_documented_ones():
    """docs/deployment.md: seg labels agree on >= 99.9 % of pixels, depth max relative error <= 1e-3
    over max(|ref|, 1 mm), detections matched at IoU >= 0.5 with scores within 1e-3."""
    thr = ParityThresholds()
    assert (thr.seg_agreement, thr.depth_max_rel, thr.depth_rel_floor_m) == (0.999, 1e-3, 1e-3)
    assert (thr.det_iou, thr.det_score_atol) == (0.5, 1e-3)


def test_exported_graph_is_the_reparameterized_network(nano_export):
    """The graph holds the inference form: no BatchNorm and one Conv per conv of the fused model
    (each RepConv's 3x3/1x1/identity branches merged into one), not one per training branch."""
    from perception.models.builder import build_model
    from perception.models.layers import RepConv, reparameterize
    nodes = onnx.load(str(nano_export['onnx'])).graph.node
    assert 'BatchNormalization' not in {n.op_type for n in nodes}
    conv_weights = {n.input[1] for n in nodes if n.op_type == 'Conv'}  # a conv may run twice
    fused = reparameterize(build_model(NANO_CONFIG, nano_export['checkpoint']))
    repconvs = [m for m in fused.modules() if isinstance(m, RepConv)]
    assert repconvs and all(m.fused is not None and not hasattr(m, 'conv1') for m in repconvs)
    # distinct weights (the exporter merges equal constants, e.g. RTMDet's shared convs whose
    # per-level BNs are still at their initial values in this random checkpoint); the per-sensor
    # auxiliary heads train only and are not in the graph
    training_only = set(fused.sensor_aux.modules()) if fused.sensor_aux is not None else set()
    fused_weights = {m.weight.detach().numpy().tobytes() for m in fused.modules()
                     if isinstance(m, torch.nn.modules.conv._ConvNd) and m not in training_only}
    assert len(conv_weights) == len(fused_weights)


def test_parity_covers_real_and_synthetic_frames(nano_export, real_root):
    parity = nano_export['report']['export']['parity']['network (host graph)']
    names = {f['name'] for f in parity['frames']}
    assert {'mfnet_day_rgbt', 'mfnet_night_rgbt', 'nyu_rgbd'} <= names   # real sensor files
    assert any(n.startswith('synthetic[') for n in names)                # the scene generator
    assert {'mfnet_day_rgbt:thermal', 'nyu_rgbd:depth'} <= names         # single-sensor subsets
    for report in nano_export['report']['export']['parity'].values():  # real + synthetic + subsets
        assert report['summary']['passed'] and report['summary']['frames'] >= 6


def test_metadata_round_trips(nano_export):
    sess = ort.InferenceSession(str(nano_export['onnx']), providers=['CPUExecutionProvider'])
    spec = ModelSpec.from_metadata(sess.get_modelmeta().custom_metadata_map)
    assert spec.input_size == NANO_SIZE and spec.nms == 'onnx' and spec.opset == 17
    from mmengine.config import Config
    classes = Config.fromfile(str(NANO_CONFIG)).model.num_classes
    assert len(spec.seg_classes) == classes['seg'] and len(spec.det_classes) == classes['det']
    assert spec.normalization['rgb']['mean'] == (123.675, 116.28, 103.53)
    # thresholds come from the config's det head
    # (nms=dict(max_det=100, score_thr=0.05, iou_thr=0.6, pre_nms_topk=1000))
    assert (spec.max_det, spec.score_thr, spec.iou_thr, spec.pre_nms_topk) == (100, 0.05, 0.6, 1000)


def test_onnx_and_host_nms_give_the_same_detections(tiny_exports, tiny_spec):
    from perception.apis.predictor import Predictor
    from perception.deploy.frames import synthetic_frames
    host = Predictor(tiny_exports['host'].path)
    onnx_nms = Predictor(tiny_exports['onnx'].path)
    assert host.spec.nms == 'host' and onnx_nms.spec.nms == 'onnx'
    total = 0
    for f in synthetic_frames(3, TINY_SIZE, seed=5):
        a, b = host(**f.sensors()), onnx_nms(**f.sensors())
        order_a, order_b = np.argsort(-a.det_scores, kind='stable'), np.argsort(-b.det_scores,
                                                                               kind='stable')
        np.testing.assert_allclose(a.det_boxes[order_a], b.det_boxes[order_b], atol=1e-4)
        np.testing.assert_allclose(a.det_scores[order_a], b.det_scores[order_b], atol=1e-6)
        np.testing.assert_array_equal(a.det_labels[order_a], b.det_labels[order_b])
        total += a.num_detections
    assert total > 0


def test_trt_variant_carries_efficient_nms_plugin(tiny_exports):
    result = tiny_exports['trt']
    model = onnx.load(str(result.path))
    plugin = [n for n in model.graph.node if n.op_type == 'EfficientNMS_TRT']
    assert len(plugin) == 1
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in plugin[0].attribute}
    assert attrs['max_output_boxes'] == 20 and attrs['iou_threshold'] == pytest.approx(0.5)
    assert attrs['score_threshold'] == pytest.approx(0.3) and attrs['background_class'] == -1
    assert attrs['box_coding'] == 0 and attrs['score_activation'] == 0
    assert [o.name for o in model.graph.output] == ['seg_labels', 'det_boxes', 'det_scores',
                                                    'det_labels', 'depth_pred']
    assert result.spec.nms == 'trt'
    # onnxruntime cannot run the plugin: its parity is the network graph's
    assert [r.label for r in result.parity] == ['network (host graph)']
    assert result.parity[0].passed


def test_perturbed_weights_fail_parity_loudly(tiny_model, tiny_exports):
    """Same exported graph, weights changed afterwards: the check must raise, not warn."""
    import copy

    from perception.deploy.onnx_export import cpu_session, ort_runner, parity_frames
    from perception.apis.preprocess import preprocess
    from perception.deploy.parity import check_parity
    from perception.models.export import ExportWrapper
    broken = copy.deepcopy(tiny_model)
    with torch.no_grad():   # classes swapped in the seg and det heads, depth shifted by 5 cm
        for conv in (broken.seg, broken.cls):
            conv.weight.copy_(conv.weight.roll(1, 0))
            conv.bias.copy_(conv.bias.roll(1, 0))
        broken.depth.bias.add_(0.05)
    spec = tiny_exports['host'].spec
    wrapper = ExportWrapper(broken, spec.pre_nms_topk).eval()
    frames = parity_frames(TINY_SIZE, num_synthetic=1, subsets=False)
    items = [(f.name, preprocess(spec, **f.sensors())[0]) for f in frames]
    session = cpu_session(onnx.load(str(tiny_exports['host'].path)))
    with pytest.raises(ParityError) as err:
        check_parity(wrapper.run_numpy, ort_runner(session), items, spec, spec, label='broken')
    report = err.value.report
    assert not report.passed
    assert any("seg labels agree" in msg for f in report.frames for msg in f.failures)
    assert any('depth max relative error' in msg for f in report.frames for msg in f.failures)
    assert any('without a partner' in msg for f in report.frames for msg in f.failures)
    assert 'FAILED' in str(err.value)


def test_export_command_fails_with_exit_code_and_no_file(tmp_path, monkeypatch):
    """A parity failure inside the command: exit code 2, the .onnx (and its report) not written.

    The real export runs (trace, onnxsim, both parity checks); only the last check -- the final
    graph's, after the network's has passed -- is held to a seg agreement no graph reaches, so a
    file saved before any parity check would be on disk when the command returns."""
    import dataclasses

    from deploy_helpers import export_args

    from perception.commands import export
    from perception.deploy import onnx_export

    real_check, labels = onnx_export.check_parity, []

    def last_check_fails(*args, label='', thresholds=None, **kwargs):
        labels.append(label)
        if label.startswith('final graph'):
            thresholds = dataclasses.replace(thresholds or ParityThresholds(), seg_agreement=1.01)
        return real_check(*args, label=label, thresholds=thresholds, **kwargs)
    monkeypatch.setattr(onnx_export, 'check_parity', last_check_fails)
    out = tmp_path / 'bad.onnx'
    args = export_args(config=NANO_CONFIG, output=out, shape=NANO_SIZE, nms='onnx',
                       parity_synthetic=1)
    assert export.run(args) == export.EXIT_PARITY
    assert labels == ['network (host graph)', 'final graph with ONNX NonMaxSuppression']
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_dynamic_batch_export_runs_batch_of_two(tmp_path, tiny_model, tiny_spec):
    opts = ExportOptions(input_size=TINY_SIZE, nms='onnx', dynamic_batch=True, score_thr=0.3,
                         max_det=20, pre_nms_topk=200, parity_synthetic=2, parity_subsets=False)
    result = export_onnx(tiny_model, tmp_path / 'dyn.onnx', tiny_spec, opts)
    names = [f.name for r in result.parity for f in r.frames]
    assert 'batch2[0]' in names and 'batch2[1]' in names
    model = onnx.load(str(result.path))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    assert result.spec.dynamic_batch


def test_procedural_frames_follow_the_contract():
    """The fallback scenes (no synthetic generator installed) are valid Predictor input."""
    from perception.apis.preprocess import check_frame
    from perception.deploy.frames import procedural_frame
    f = procedural_frame(np.random.default_rng(0), TINY_SIZE, 'p')
    assert f.rgb.dtype == np.uint8 and f.thermal.dtype == f.depth.dtype == np.float32
    _, info = check_frame(**f.sensors())
    assert info.shape == TINY_SIZE and info.modality_mask == (True, True, True)
    assert f.depth.max() > 0 and (f.depth == 0).any()     # valid depth and holes (the sky)


def test_class_counts_of_a_model_that_declares_none_are_probed(tiny_model):
    """The fallback for models other than MultiTaskPerceptor: one zero batch through forward_export."""
    from perception.apis.config_spec import class_counts
    assert not hasattr(tiny_model, 'num_classes')
    assert class_counts(tiny_model, TINY_SIZE) == {'seg': 5, 'det': 3}
