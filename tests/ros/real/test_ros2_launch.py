"""perception_node as a user runs it: `ros2 launch perception_ros perception.launch.py` from a colcon
workspace, fed by a second rclpy node with synchronised RGB / thermal / depth at camera rates over
rmw_cyclonedds_cpp (loopback). The scenarios of the CycloneDDS rig (wire_rig.SCENARIOS) run here with
the same settings, frames and test predictor, so their figures sit side by side in docs/ros.md; the
exported nano model runs end to end; the lifecycle, parameters files, namespaces and failures are
driven as `ros2 lifecycle set` and a robot's launch setup would."""
import contextlib
import time

import pytest
import rclpy
from ros2_rig import LaunchedNode, Rig, user_params_file, wait_until
from wire_rig import ALL, OUTPUT_TOPICS, SCENARIOS, SENSOR_TOPICS, check_fault, check_flood
from wire_rig import check_nominal, fault_timing, flood_timing, nominal_figures, nominal_timing
from wire_rig import report

from perception.ros.health import OK, STALE, WARN

HEIGHT, WIDTH = 120, 160
ACTIVE_TIMEOUT_S = 60          # launch + interpreter start + model load + configure + activate


@contextlib.contextmanager
def launched(ros_workspace, tmp_path, rig_fqn='/perception_node', rig_topics=None, **args):
    """The launched node and a rig beside it; on the way out the launch is stopped and, when the
    test failed, the launch output is in the assertion's context through ``node.log()``."""
    node = LaunchedNode(ros_workspace, args, tmp_path / 'launch.log')
    rig = Rig(rig_fqn, **(rig_topics or {}), height=HEIGHT, width=WIDTH)
    try:
        yield node, rig
    finally:
        rig.close()
        node.stop()


def wait_active(node, rig):
    gave_up = ('configure failed', 'activate failed', 'process has died')
    wait_until(lambda: rig.state() == 'active' or any(g in node.log() for g in gave_up),
               ACTIVE_TIMEOUT_S, 0.2)
    assert rig.state() == 'active', (
        f'{rig.node_fqn} not active (state {rig.state()}); launch output:\n{node.log()[-3000:]}')


def quiet_log(node):
    log = node.log()
    assert 'Traceback' not in log and 'Logger severity' not in log, log[-3000:]


@pytest.fixture(scope='module')
def scenario(request, ros_workspace, tmp_path_factory):
    """One launched run of a DDS-rig scenario (request.param), shared by its behaviour test and, in
    a run that selects them (pytest -m timing), its wall-clock test: (name, result, figures)."""
    name = request.param
    spec = SCENARIOS[name]
    tmp_path = tmp_path_factory.mktemp(f'scenario_{name}')
    params = user_params_file(tmp_path / 'params.yaml', model_path=spec['model_path'],
                              **spec['settings'])
    rclpy.init()
    try:
        with launched(ros_workspace, tmp_path, params_file=params) as (node, rig):
            wait_active(node, rig)
            result = rig.run(spec['script'], node)
            alive = node.node_alive()
            log = node.log()
    finally:
        rclpy.try_shutdown()
    return name, result, alive, log


SCENARIO_NAMES = ['nominal', 'fault', 'flood']


@pytest.mark.parametrize('scenario', SCENARIO_NAMES, indirect=True)
def test_dds_rig_scenarios_through_rclpy(scenario):
    """Same settings, frames and test predictor as tests/ros/test_ros_dds.py, through real rclpy:
    30 Hz nominal; thermal publisher stalled 1.5 s (DEGRADED, then OK); a 75 Hz flood into a node
    that manages 25 (bounded memory, newest frame wins, drops reported). Behaviour only: the
    wall-clock bounds are test_dds_rig_scenario_timing_through_rclpy's."""
    name, result, alive, log = scenario
    figures = scenario_figures(name, result)
    assert alive, f'perception_node died:\n{log[-3000:]}'
    assert 'Traceback' not in log and 'Logger severity' not in log, log[-3000:]
    report('rclpy', name, **figures, image=f'{HEIGHT}x{WIDTH}')


@pytest.mark.timing
@pytest.mark.parametrize('scenario', SCENARIO_NAMES, indirect=True)
def test_dds_rig_scenario_timing_through_rclpy(scenario):
    """The DDS rig's wall-clock bounds (latency, output gaps, flood latency) on the same runs: for
    an otherwise idle machine (make test-ros, make test-slow, CI), as on the DDS rig."""
    name, result, _, _ = scenario
    TIMING[name](scenario_figures(name, result))


TIMING = {'nominal': nominal_timing, 'fault': fault_timing, 'flood': flood_timing}


def scenario_figures(name, result):
    spec = SCENARIOS[name]
    if name == 'nominal':
        return check_nominal(result, HEIGHT, WIDTH)
    if name == 'fault':
        return check_fault(result, spec['settings']['stale_timeout'], HEIGHT, WIDTH)
    return check_flood(result, spec['delay_s'], HEIGHT, WIDTH)


NANO_SETTINGS = dict(slop=0.01, stale_timeout=0.3, diagnostics_period=0.2)
NANO_SCRIPT = [{'duration_s': 3.0, 'rate_hz': 30, 'sensors': ALL},
               {'duration_s': 1.5, 'rate_hz': 30, 'sensors': ['rgb', 'depth']},
               {'duration_s': 1.5, 'rate_hz': 30, 'sensors': ALL}]


@pytest.fixture(scope='module')
def nano_run(ros_workspace, nano_onnx, tmp_path_factory):
    """The exported nano behind the launch file, fed NANO_SCRIPT (thermal stalled in its middle
    phase): one run shared by the behaviour test and its wall-clock test. (result, alive, log)."""
    tmp_path = tmp_path_factory.mktemp('nano_run')
    params = user_params_file(tmp_path / 'params.yaml', **NANO_SETTINGS)
    topics = dict(output_topics={**OUTPUT_TOPICS, 'overlay': '/perception/overlay'})
    rclpy.init()
    try:
        with launched(ros_workspace, tmp_path, rig_topics=topics, params_file=params,
                      model_path=nano_onnx) as (node, rig):
            wait_active(node, rig)
            result = rig.run(NANO_SCRIPT, node)
            alive = node.node_alive()
            log = node.log()
    finally:
        rclpy.try_shutdown()
    return result, alive, log


def test_exported_nano_model_end_to_end(nano_run, nano_onnx):
    """The exported nano network behind the launch file: labels, overlay, detections and depth
    arrive stamped and framed like their input set, diagnostics stamped by the node's clock; with
    the thermal publisher stalled the node goes on DEGRADED on rgb + depth, and is OK again once
    thermal is back (in that order; how soon: test_exported_nano_model_timing). The same frames
    then go through the CycloneDDS rig's node with the same model, for the figures."""
    result, alive, log = nano_run
    assert alive, f'perception_node died:\n{log[-3000:]}'
    assert 'Traceback' not in log and 'Logger severity' not in log, log[-3000:]
    sent = result.sent_by_stamp()
    for name in ('labels', 'overlay', 'detections', 'depth'):
        assert result.records[name], f'no {name} output'
        for rec in result.records[name]:
            assert rec['stamp'] in sent and rec['frame_id'] == 'camera', (name, rec['stamp'])
    for rec in result.records['labels']:
        assert rec['encoding'] == 'mono8' and rec['shape'] == (HEIGHT, WIDTH)
    for rec in result.records['depth']:
        assert rec['encoding'] == '32FC1' and rec['shape'] == (HEIGHT, WIDTH) and rec['finite']
    # diagnostics are the node's own messages, not an input set's: stamped by its clock when made
    # (rising, before they arrive, never an input stamp), with no frame
    diag = result.records['diagnostics']
    assert len(diag) >= 2, 'diagnostics did not arrive'
    stamps = [d['stamp'] for d in diag]
    assert stamps == sorted(set(stamps)), 'diagnostic stamps do not rise'
    assert all(d['stamp'] <= d['recv'] and d['stamp'] not in sent and d['frame_id'] == ''
               for d in diag)
    # thermal stalled: outputs go on from rgb + depth, DEGRADED (thermal STALE), then OK again
    t_gap0, t_gap1 = result.phase_window(1)
    t_back0, _ = result.phase_window(2)
    assert any(t_gap0 <= r['stamp'] < t_gap1 for r in result.records['depth']), \
        'no output while thermal was stalled'
    degraded = [i for i, d in enumerate(diag) if d['recv'] >= t_gap0 and d['level'] == WARN
                and d['sensors']['thermal'] == STALE]
    assert degraded, 'no DEGRADED (thermal STALE) diagnostics after thermal stopped'
    assert any(d['level'] == OK and d['stamp'] >= t_back0 for d in diag[degraded[0] + 1:]), \
        'diagnostics not OK again after thermal came back'
    figures = nominal_figures(result)
    report('rclpy', 'nano', **figures, image=f'{HEIGHT}x{WIDTH}',
           process_ms_mean=result.stats.get('mean_process_ms'))
    # the same model and frames through the node on the CycloneDDS shim, in this session
    from test_ros_dds import run_rig

    from perception.ros.config import NodeConfig
    from perception.ros.predictor_factory import build_predictor
    config = NodeConfig(**NANO_SETTINGS)
    dds = run_rig(config, build_predictor(str(nano_onnx), 'onnxruntime'), NANO_SCRIPT[:1])
    report('dds', 'nano', **nominal_figures(dds), image=f'{HEIGHT}x{WIDTH}',
           process_ms_mean=round(dds.stats['mean_process_ms'], 1))


@pytest.mark.timing
def test_exported_nano_model_timing(nano_run):
    """The same run's wall-clock bounds (an otherwise idle machine): at least half of the sets come
    back as every output; from 0.5 s into the stall every diagnostic is DEGRADED (thermal STALE)
    and degraded outputs come out; within the returned phase, from 0.5 s on, one is OK."""
    result, _, _ = nano_run
    sent = result.sent_by_stamp()
    for name in ('labels', 'overlay', 'detections', 'depth'):
        assert len(result.records[name]) >= 0.5 * len(sent), f'too few {name} outputs'
    t_gap0, t_gap1 = result.phase_window(1)
    t_back0, t_back1 = result.phase_window(2)
    diag = result.records['diagnostics']
    gap = [d for d in diag if t_gap0 + 0.5e9 <= d['recv'] < t_gap1]
    assert gap and all(d['level'] == WARN and d['sensors']['thermal'] == STALE for d in gap)
    assert any(d['level'] == OK for d in diag if t_back0 + 0.5e9 <= d['stamp'] < t_back1)
    degraded = [r for r in result.records['depth'] if t_gap0 + 0.5e9 <= r['stamp'] < t_gap1]
    assert degraded, 'no output while thermal was stalled'


def test_lifecycle_through_the_launch_file(ros_workspace, tmp_path, ros_context):
    """configure + activate by the launch file; a manual deactivate stays deactivated (the launch's
    auto-activate followed every transition into inactive); cleanup drops the publishers, configure
    makes one of each again (and autostart activates it); shutdown leaves nothing on the graph."""
    params = user_params_file(tmp_path / 'params.yaml', stale_timeout=2.0)
    one_burst = [{'duration_s': 0.7, 'rate_hz': 30, 'sensors': ALL}]
    graph = {'publishers': lambda t: rig.node.count_publishers(t),
             'subscribers': lambda t: rig.node.count_subscribers(t)}
    with launched(ros_workspace, tmp_path, params_file=params,
                  model_path='ros_testkit:ToyPredictor') as (node, rig):
        wait_active(node, rig)
        assert rig.connected()
        rig.play(one_burst)
        assert wait_until(lambda: rig.records['detections'], 5), 'no output while active'

        assert rig.transition('deactivate')
        t_off = time.time_ns()
        for _ in range(10):                                    # 2 s: stays inactive
            assert rig.state() == 'inactive', f'reactivated after a manual deactivate:\n{node.log()}'
            time.sleep(0.2)
        rig.play(one_burst)
        time.sleep(0.5)
        assert rig.outputs_since('detections', t_off + 100_000_000) == []   # inactive: silent

        assert rig.transition('cleanup') and rig.state() == 'unconfigured'
        outputs = [OUTPUT_TOPICS[k] for k in ('labels', 'detections', 'depth')] + ['/perception/overlay']
        assert wait_until(lambda: all(graph['publishers'](t) == 0 for t in outputs), 10), \
            'publishers left after cleanup'
        assert rig.transition('configure')
        wait_active(node, rig)                                 # the launch's autostart
        assert wait_until(lambda: all(graph['publishers'](t) == 1 for t in outputs), 10)
        time.sleep(1.0)                                        # and not more than one, later
        assert all(graph['publishers'](t) == 1 for t in outputs)
        t_on = time.time_ns()
        rig.play(one_burst)
        assert wait_until(lambda: rig.outputs_since('detections', t_on), 5), \
            'no output after reconfigure'

        assert rig.transition('shutdown') and rig.state() == 'finalized'
        assert wait_until(lambda: all(graph['subscribers'](t) == 0 for t in SENSOR_TOPICS.values())
                          and all(graph['publishers'](t) == 0 for t in outputs), 10)
        assert node.node_alive()
        quiet_log(node)
    assert node.proc.returncode == 0


def test_user_params_file_sets_the_model(ros_workspace, nano_onnx, tmp_path, ros_context):
    """model_path and backend from the user's params file (no launch arguments): the launch file's
    empty defaults were passed after the file and replaced them, so configure failed."""
    params = user_params_file(tmp_path / 'robot.yaml', model_path=str(nano_onnx),
                              backend='onnxruntime', stale_timeout=2.0)
    with launched(ros_workspace, tmp_path, params_file=params) as (node, rig):
        wait_active(node, rig)
        result = rig.run([{'duration_s': 1.0, 'rate_hz': 30, 'sensors': ALL}], node)
        assert result.records['detections'] and result.records['depth']
        assert rig.parameters(['model_path', 'backend']) == {'model_path': str(nano_onnx),
                                                             'backend': 'onnxruntime'}


def test_namespaced_node_reads_the_params_file(ros_workspace, tmp_path, ros_context):
    """namespace:=robot1 with a params file made from the shipped one: the file's values reach
    /robot1/perception_node (its key used to match /perception_node only, and they were dropped)."""
    inputs = {'rgb': 'front/rgb', 'thermal': 'front/thermal', 'depth': 'front/depth'}  # relative
    params = user_params_file(tmp_path / 'robot1.yaml', topics=inputs, stale_timeout=1.5,
                              **{'output_topics': {**{k: f'perception/{k}' for k in (
                                  'labels', 'overlay', 'detections', 'depth', 'camera_info')},
                                  'diagnostics': 'diagnostics'}})
    rig_topics = dict(sensor_topics={s: f'/robot1/{t}' for s, t in inputs.items()},
                      output_topics={k: f'/robot1{v}' for k, v in OUTPUT_TOPICS.items()})
    with launched(ros_workspace, tmp_path, rig_fqn='/robot1/perception_node', rig_topics=rig_topics,
                  params_file=params, namespace='robot1',
                  model_path='ros_testkit:ToyPredictor') as (node, rig):
        wait_active(node, rig)
        assert rig.parameters(['stale_timeout', 'topics.rgb']) == {'stale_timeout': 1.5,
                                                                  'topics.rgb': 'front/rgb'}
        result = rig.run([{'duration_s': 1.0, 'rate_hz': 30, 'sensors': ALL}], node)
        assert result.records['detections'] and result.records['diagnostics']
        assert {r['frame_id'] for r in result.records['depth']} == {'camera'}


@pytest.mark.parametrize('first', ['predictor_error', 'malformed'])
def test_malformed_image_and_predictor_error_in_either_order(ros_workspace, tmp_path, ros_context,
                                                             first):
    """A malformed thermal image (logged as a warning) and a predictor failure (an error), in either
    order: rclpy's logger raised ValueError on the second severity from the one call site, which
    killed the node (out of a subscription callback) or hid the predictor error (in the worker)."""
    bad = {'malformed': {'duration_s': 0.15, 'rate_hz': 30, 'sensors': ALL, 'malformed': 'step'},
           'predictor_error': {'duration_s': 0.15, 'rate_hz': 30, 'sensors': ALL,
                               'malformed': 'predictor_error'}}
    second = 'malformed' if first == 'predictor_error' else 'predictor_error'
    script = [{'duration_s': 0.5, 'rate_hz': 30, 'sensors': ALL}, bad[first], bad[second],
              {'duration_s': 1.0, 'rate_hz': 30, 'sensors': ALL}]
    params = user_params_file(tmp_path / 'params.yaml', model_path='ros_testkit:FailOnMarker',
                              stale_timeout=2.0)
    with launched(ros_workspace, tmp_path, params_file=params) as (node, rig):
        wait_active(node, rig)
        result = rig.run(script, node)
        alive = node.node_alive()
        log = node.log()
    assert alive, f'perception_node died:\n{log[-3000:]}'
    assert "field 'step'" in log and 'simulated inference failure' in log
    assert 'Logger severity cannot be changed' not in log
    t_last, _ = result.phase_window(3)
    last = [r for r in result.records['depth'] if r['stamp'] >= t_last]
    assert last, 'outputs did not resume after the bad frames'     # frames sent after them
    assert result.stats['predictor_errors'] >= 1 and result.stats['malformed.thermal'] >= 1
