"""The node core in-process, driven by a fake clock: synchronised sets reach the predictor, outputs are
stamped like the input, stale sensors degrade and recover, malformed input is skipped, slow inference
drops to the newest set."""
import inspect
import logging
import threading
import time

import numpy as np
import pytest
from core_harness import PERIOD_S, FailsFirst, Harness, log_an_error_and_a_warning
from ros_testkit import ToyPredictor, camera_info, synthetic_frame

from perception.contract import ConfigError
from perception.ros.config import NodeConfig
from perception.ros import typestore as ts
from perception.ros.health import ERROR, OK, STALE, WARN
from perception.ros.image_codec import array_to_image, encode_sensor, image_to_array

WAIT_S = 60     # hang guards of the threaded tests; nothing is timed against them


class CallSiteLogger:
    """rclpy's logger rule (rclpy/impl/rcutils_logger.py, ``CallerId``): the first severity logged
    from a call site -- the caller's function, file, line and bytecode offset -- is bound to that site,
    and logging another severity from it raises ``ValueError``. The real logger is exercised in
    tests/ros/real; this double keeps the rule under test where rclpy is absent."""

    def __init__(self):
        self.sites = {}
        self.records = []

    def _log(self, severity, message):
        frame = inspect.currentframe().f_back.f_back          # the caller of info()/warning()/error()
        site = (frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno, frame.f_lasti)
        if self.sites.setdefault(site, severity) != severity:
            raise ValueError('Logger severity cannot be changed between calls.')
        self.records.append((severity, message))

    def info(self, message):
        self._log('info', message)

    def warning(self, message):
        self._log('warning', message)

    def error(self, message):
        self._log('error', message)


def test_synchronised_set_reaches_predictor_and_outputs_carry_the_input_stamp():
    h = Harness()
    sets = h.frame(0)
    assert len(sets) == 1 and sets[0].modality_mask == (True, True, True)
    assert h.predictor.calls == [(True, True, True)]
    names = {n for n, _ in h.out}
    assert {'labels', 'overlay', 'detections', 'depth', 'diagnostics'} <= names
    rgb_msg = h.images(0)['rgb']
    for name in ('labels', 'overlay', 'detections', 'depth'):
        msg = h.outputs(name)[-1]
        assert ts.stamp_ns(msg.header) == ts.stamp_ns(rgb_msg.header)     # reference sensor: rgb
        assert msg.header.frame_id == 'rgb_frame'
    _, thermal, depth, (x0, y0, size) = synthetic_frame(0)
    np.testing.assert_allclose(image_to_array(h.outputs('depth')[-1]), depth, atol=5e-4)
    labels = image_to_array(h.outputs('labels')[-1])
    assert (labels == 1).sum() == size * size                                 # thermal-based seg
    det = h.outputs('detections')[-1].detections[0]
    assert det.results[0].hypothesis.class_id == 'hot'
    assert det.bbox.center.position.x == pytest.approx(x0 + size / 2)


def test_output_frame_override_and_publish_subset():
    h = Harness(output_frame_id='base_camera', publish=('detections', ))
    h.frame(0)
    names = {n for n, _ in h.out}
    assert names == {'detections', 'diagnostics'}
    assert h.outputs('detections')[0].header.frame_id == 'base_camera'


def test_stale_sensor_degrades_then_recovers(caplog):
    h = Harness()
    caplog.set_level(logging.INFO, logger='perception.ros')
    for k in range(5):
        h.frame(k)
    assert h.predictor.calls[-1] == (True, True, True)
    for k in range(5, 25):                                  # thermal cable pulled for ~0.66 s
        h.frame(k, ('rgb', 'depth'))
    assert h.core.sync.active == ('rgb', 'depth')
    assert h.predictor.calls[-1] == (True, False, True)     # keeps publishing on the rest
    assert any('thermal (/thermal/image_raw) stale' in r.message for r in caplog.records)
    diag = h.outputs('diagnostics')[-1]
    summary = diag.status[0]
    assert summary.level == WARN and summary.message.startswith('DEGRADED: thermal stale')
    thermal_status = next(s for s in diag.status if s.name.endswith('sensor thermal'))
    assert thermal_status.level == STALE
    labels = image_to_array(h.outputs('labels')[-1])
    assert set(np.unique(labels)) == {0, 2}                 # rgb-based seg without thermal
    # only sets processed while thermal was missing were degraded; about timeout/period of them waited
    degraded = sum(1 for c in h.predictor.calls if c == (True, False, True))
    assert 20 - 0.3 / PERIOD_S - 2 <= degraded <= 20
    for k in range(25, 30):                                 # thermal is back
        h.frame(k)
    assert h.predictor.calls[-1] == (True, True, True)
    assert h.core.sync.active == ('rgb', 'thermal', 'depth')
    assert any('thermal (/thermal/image_raw) is back' in r.message for r in caplog.records)
    n_diag = len(h.outputs('diagnostics'))
    for k in range(30, 70):                                 # > one diagnostics period
        h.frame(k)
    assert len(h.outputs('diagnostics')) > n_diag
    assert h.outputs('diagnostics')[-1].status[0].level == OK
    assert all(c == (True, True, True) for c in h.predictor.calls[-40:])


def test_every_sensor_stale_is_an_error_and_startup_waits_for_all():
    h = Harness()
    # startup grace: rgb alone does not produce degraded sets before the timeout
    h.clock.t += 0.1
    assert h.core.on_image('rgb', h.images(0, ('rgb', ))['rgb']) == []
    h.clock.t += 5.0
    h.core.tick()
    assert h.outputs('diagnostics')[-1].status[0].level == ERROR
    assert h.core.sync.active == ()
    # after the total outage, the first camera back does not go out alone: all get a grace again
    sets = h.frame(1)
    assert [s.modality_mask for s in sets] == [(True, True, True)]
    assert h.core.sync.active == ('rgb', 'thermal', 'depth')
    assert h.predictor.calls == [(True, True, True)]


def test_malformed_messages_are_logged_counted_and_skipped(caplog):
    h = Harness()
    caplog.set_level(logging.WARNING, logger='perception.ros')
    h.frame(0)
    good = h.images(1)
    bad_step = h.images(1)['thermal']
    bad_step.step = 10
    bad_enc = h.images(1)['depth']
    bad_enc.encoding = 'yuv422'
    h.clock.t += PERIOD_S
    assert h.core.on_image('thermal', bad_step) == []
    assert h.core.on_image('depth', bad_enc) == []
    assert h.core.on_image('rgb', good['rgb']) == []          # set incomplete: bad ones were skipped
    messages = ' | '.join(r.message for r in caplog.records)
    assert "thermal on /thermal/image_raw', field 'step'" in messages
    assert "depth on /camera/depth/image_rect_raw', field 'encoding'" in messages
    stats = h.core.stats()
    assert stats['malformed.thermal'] == 1 and stats['malformed.depth'] == 1
    # size mismatch between sensors: set skipped with both sizes named
    h.clock.t += PERIOD_S
    msgs = h.images(2)
    rgb_small = encode_sensor(np.zeros((48, 64, 3), np.uint8), 'rgb', 'rgb8', msgs['rgb'].header)
    sets = h.core.on_image('rgb', rgb_small) + h.core.on_image('thermal', msgs['thermal'])
    sets += h.core.on_image('depth', msgs['depth'])
    assert sets == [] and h.core.stats()['malformed_sets'] == 1
    mismatch = [r.message for r in caplog.records if 'size mismatch between sensors' in r.message]
    assert 'rgb 48x64' in mismatch[0] and 'thermal 96x128' in mismatch[0]
    # how to fix it in ROS (parameter names), not the command line's --calibration
    assert 'topics.rgb_camera_info' in mismatch[0] and 'registration.<sensor>_to_rgb' in mismatch[0]
    assert '--calibration' not in mismatch[0]
    # and the node goes on
    assert len(h.frame(3)) == 1 and h.core.stats()['processed'] == 2


def test_repeated_malformed_input_is_throttled_in_the_log(caplog):
    h = Harness()
    caplog.set_level(logging.WARNING, logger='perception.ros')
    for k in range(30):
        msg = h.images(k)['thermal']
        msg.encoding = 'bayer_rggb8'
        h.clock.t += PERIOD_S
        h.core.on_image('thermal', msg)
    assert h.core.stats()['malformed.thermal'] == 30
    assert sum('bayer_rggb8' in r.message for r in caplog.records) == 1


def test_predictor_failure_and_bad_result_do_not_stop_the_node(caplog):
    class Flaky(ToyPredictor):
        def __call__(self, **kw):
            res = super().__call__(**kw)
            n = len(self.calls)
            if n == 1:
                raise RuntimeError('CUDA error: out of memory')
            if n == 2:
                res.seg_labels = res.seg_labels[:10]
            return res
    h = Harness(Flaky())
    for k in range(3):
        h.frame(k)
    stats = h.core.stats()
    assert (stats['predictor_errors'], stats['output_errors'], stats['processed']) == (1, 1, 1)
    assert any('CUDA error' in r.message for r in caplog.records)
    assert any('seg_labels: expected shape (96, 128)' in r.message for r in caplog.records)


@pytest.mark.parametrize('first', ['predictor_error', 'malformed'])
def test_an_error_and_a_warning_in_either_order_keep_an_rclpy_style_logger_working(first):
    """A predictor error and a malformed image log at two severities: with rclpy's per-call-site
    severity rule, logging both from one call site raised ValueError (out of the subscription
    callback, which stops rclpy's executor)."""
    log = CallSiteLogger()
    log_an_error_and_a_warning(Harness(FailsFirst(), logger=log), first)
    assert [s for s, m in log.records if 'predictor failed' in m or 'malformed' in m] == (
        ['warning', 'error'] if first == 'malformed' else ['error', 'warning'])


def test_camera_info_is_passed_through_with_the_output_stamp():
    h = Harness(camera_info_topics={'rgb': '/camera/color/camera_info'})
    h.core.on_camera_info('rgb', camera_info(128, 96, 100.0, 'x'))
    h.frame(0)
    out = h.outputs('camera_info')[-1]
    assert ts.stamp_ns(out.header) == ts.stamp_ns(h.outputs('labels')[-1].header)
    assert out.width == 128


class HeldPredictor(ToyPredictor):
    """Its first call blocks until ``release`` is set: inference that is still running while the
    next sets arrive, with no wall-clock assumption (however slow the machine is)."""

    def __init__(self):
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, **kw):
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(WAIT_S), 'the test never released the first inference'
        return super().__call__(**kw)


def test_slow_inference_processes_the_newest_set_and_counts_drops():
    predictor = HeldPredictor()
    h = Harness(predictor)
    h.core.start()
    try:
        h.frame(0, process=False)
        assert predictor.entered.wait(WAIT_S), 'the worker never started the first set'
        for k in range(1, 20):                # 19 sets arrive while set 0 is still being inferred
            h.frame(k, process=False)
        predictor.release.set()
        deadline = time.monotonic() + WAIT_S  # a hang guard only: no timing is measured
        while not h.core.worker.idle() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert h.core.worker.idle(), f'the worker did not finish in {WAIT_S} s'
    finally:
        predictor.release.set()
        h.core.stop()
    stats = h.core.stats()
    # set 0, then only the newest (19); the 18 in between were replaced while waiting
    assert (stats['processed'], stats['busy_dropped']) == (2, 18), stats
    assert len(predictor.calls) == 2
    last = h.outputs('depth')[-1]
    assert ts.stamp_ns(last.header) == ts.stamp_ns(h.images(19)['rgb'].header)   # the newest


def test_only_enabled_sensors_are_used():
    h = Harness(topics={'rgb': '/rgb', 'thermal': '', 'depth': '/depth'})
    assert h.config.sensors == ('rgb', 'depth')
    sets = h.frame(0, ('rgb', 'depth'))
    assert sets[0].modality_mask == (True, False, True)
    with pytest.raises(ValueError, match="sensor 'thermal' is not enabled"):
        h.core.on_image('thermal', array_to_image(np.zeros((2, 2), np.uint8), 'mono8', ts.header(0)))


class TwoSensorPredictor(ToyPredictor):
    """A predictor whose model uses rgb and thermal only (``spec.trained_sensors``)."""
    spec = type('Spec', (), dict(trained_sensors=('rgb', 'thermal'), thermal_scaling=None,
                                 normalization=None))()


def test_topics_of_sensors_the_model_does_not_use_are_not_subscribed(caplog):
    """An RGB-thermal model under the default params (three topics): depth is switched off with
    one warning naming the topic, diagnostics say so, sets complete without it, and the DDS
    runner and bag replay subscribe through the same restricted config."""
    with caplog.at_level('WARNING', logger='perception.ros'):
        h = Harness(predictor=TwoSensorPredictor(), depth_to_rgb=(), thermal_to_rgb=())
    assert h.core.config.sensors == ('rgb', 'thermal') and h.core.ignored_sensors == ('depth', )
    assert [r.getMessage() for r in caplog.records if 'not subscribing' in r.getMessage()] == [
        'not subscribing to depth (/camera/depth/image_rect_raw): the model uses rgb+thermal only']
    assert len(h.frame(0, sensors=('rgb', 'thermal'))) == 1
    assert h.predictor.calls == [(True, True, False)]
    assert h.core.stats()['ignored_sensors'] == 'depth'
    with pytest.raises(ValueError, match='not enabled'):
        h.core.on_image('depth', h.images(1)['depth'])
    with pytest.raises(ConfigError, match='the model uses'):
        Harness(predictor=TwoSensorPredictor(), topics={'rgb': '', 'thermal': '', 'depth': '/d'})


class SpecPredictor(ToyPredictor):
    """A predictor with a ModelSpec-like spec (class lists, all sensors)."""
    spec = type('Spec', (), dict(trained_sensors=('rgb', 'thermal', 'depth'), thermal_scaling=None,
                                 normalization=None, det_classes=('person', 'car'),
                                 seg_classes=('background', 'road', 'person'), display_thr=None))()


def test_class_lists_are_published_as_label_info():
    """vision_msgs/LabelInfo of the model's detection and segmentation classes: id = index, name,
    the detections' threshold; a topic set to '' is not published, a predictor without a spec
    publishes none."""
    h = Harness(predictor=SpecPredictor(), score_thr=0.4)
    sent = h.core.publish_classes()
    assert set(sent) == {'det_classes', 'seg_classes'} == {n for n, _ in h.out}
    det = dict(h.out)['det_classes']
    assert [(c.class_id, c.class_name) for c in det.class_map] == [(0, 'person'), (1, 'car')]
    assert det.threshold == pytest.approx(0.4)
    assert [c.class_name for c in dict(h.out)['seg_classes'].class_map] == [
        'background', 'road', 'person']
    assert dict(h.out)['seg_classes'].threshold == 0.0
    ts.deserialize(ts.serialize(det, ts.LABEL_INFO), ts.LABEL_INFO)       # a valid message
    quiet = Harness(predictor=SpecPredictor(),
                    output_topics=dict(NodeConfig().output_topics, seg_classes=''))
    assert set(quiet.core.publish_classes()) == {'det_classes'}
    assert Harness().core.publish_classes() == {}


def test_stage_times_reach_the_diagnostics():
    """Per-stage running means (decode, the Predictor's own stages, encode, publish) are counters,
    so /diagnostics carries them; a stage that did not run (no registration) stays 0."""
    from perception.ros.core import STAGES

    class Timed(ToyPredictor):
        def __call__(self, **kw):
            result = super().__call__(**kw)
            result.timings_ms = {'preprocess': 1.0, 'inference': 3.0, 'postprocess': 0.5}
            return result
    h = Harness(predictor=Timed())
    for k in range(3):
        h.frame(k)
    stats = h.core.stats()
    assert {f'ms.{s}' for s in STAGES} <= set(stats)
    assert stats['ms.inference'] == 3.0 and stats['ms.preprocess'] == 1.0
    assert stats['ms.decode'] > 0 and stats['ms.encode'] > 0 and stats['ms.publish'] >= 0
    assert stats['ms.register'] == 0.0
    diag = h.core.publish_diagnostics()
    values = {kv.key: kv.value for st in diag.status for kv in st.values}
    assert float(values['ms.inference']) == 3.0
