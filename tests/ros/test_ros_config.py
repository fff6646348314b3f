"""Node parameters and the ament package around them (what can be checked without colcon/rclpy)."""
import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from perception.ros.config import NodeConfig, QosSpec, load_params_file
from perception.ros.predictor_factory import build_predictor

PKG = Path(__file__).resolve().parents[2] / 'ros_nodes'
PARAMS = PKG / 'config' / 'params.yaml'


def test_params_yaml_loads_and_documents_every_parameter():
    config = load_params_file(PARAMS)
    assert config == NodeConfig()              # the YAML states the defaults, nothing else
    section = yaml.safe_load(PARAMS.read_text())['/**/perception_node']['ros__parameters']

    def flat(d, prefix=''):
        for k, v in d.items():
            yield from flat(v, f'{prefix}{k}.') if isinstance(v, dict) else [f'{prefix}{k}']
    # Parameters without a default (the static transforms) are shown as commented examples: rcl's
    # parameter file parser has no empty array.
    examples = {f'registration.{k}' for k in re.findall(r'^ +# (\w+): \[', PARAMS.read_text(), re.M)}
    assert examples == {'registration.thermal_to_rgb', 'registration.depth_to_rgb'}
    assert all(NodeConfig().to_params()[name] == [] for name in examples)
    assert set(flat(section)) | examples == set(NodeConfig.parameter_names())


def test_from_params_round_trip_and_overrides():
    config = NodeConfig.from_params({
        'topics': {'rgb': '/cam/rgb', 'thermal': '', 'rgb_camera_info': '/cam/info'},
        'sync': {'slop': 0.02, 'queue_size': 4}, 'publish': ['detections'], 'stale_timeout': 1.5})
    assert config.sensors == ('rgb', 'depth') and config.camera_info_topics['rgb'] == '/cam/info'
    assert (config.slop, config.queue_size, config.stale_timeout) == (0.02, 4, 1.5)
    assert NodeConfig.from_params(config.to_params()) == config
    assert config.input_qos_spec() == QosSpec('best_effort', 5, 'volatile')
    assert config.output_qos_spec() == QosSpec('reliable', 10, 'volatile')


@pytest.mark.parametrize('params,match', [
    ({'slopp': 1}, "unknown parameter 'slopp'"),
    ({'topics.lidar': '/scan'}, "unknown sensors \\['lidar'\\]"),
    ({'output_topics.pointcloud': '/x'}, "unknown output"),
    ({'topics': {'rgb': '', 'thermal': '', 'depth': ''}}, 'at least one of'),
    ({'sync.slop': 0}, 'slop: expected > 0'),
    ({'input_qos': 'fast'}, "QoS preset 'fast'"),
    ({'publish': ['labels', 'pointcloud']}, 'unknown outputs'),
])
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        NodeConfig.from_params(params)


def rclpy_node_key_matches(key: str, node_fqn: str) -> bool:
    """rclpy's rule for the node keys of a parameters file (rclpy/src/rclpy/node.cpp,
    ``_populate_node_parameters_from_rcl_params``): a leading '/' is added, then '/*' stands for one
    name token and '/**' for any number of them, and the key must match the node's full name."""
    key = key if key.startswith('/') else '/' + key
    return re.fullmatch(key.replace('/*', r'(/\w+)'), node_fqn) is not None


def test_the_rclpy_key_rule_as_written_here():
    assert rclpy_node_key_matches('perception_node', '/perception_node')
    assert not rclpy_node_key_matches('perception_node', '/robot1/perception_node')
    assert rclpy_node_key_matches('/**', '/robot1/perception_node')
    assert rclpy_node_key_matches('/*/perception_node', '/robot1/perception_node')
    assert not rclpy_node_key_matches('/*/perception_node', '/perception_node')


@pytest.mark.parametrize('node_fqn', ['/perception_node', '/robot1/perception_node',
                                      '/fleet/robot1/perception_node'])
def test_shipped_params_file_reaches_the_node_in_any_namespace(node_fqn):
    """With ``namespace:=X`` a bare ``perception_node:`` key matched nothing: every value of the file
    was dropped without a word (the real launch is in tests/ros/real)."""
    keys = [k for k in yaml.safe_load(PARAMS.read_text()) if rclpy_node_key_matches(k, node_fqn)]
    assert keys, f'no node key of {PARAMS.name} matches {node_fqn}'


def test_params_file_without_the_node_section(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text('other_node:\n  ros__parameters: {}\n')
    with pytest.raises(ValueError, match='no "perception_node: ros__parameters:" section'):
        load_params_file(path)
    path.write_text('/**:\n  ros__parameters:\n    stale_timeout: 2.0\n')
    assert load_params_file(path).stale_timeout == 2.0
    path.write_text('/**/perception_node:\n  ros__parameters:\n    stale_timeout: 3.0\n')
    assert load_params_file(path).stale_timeout == 3.0


def test_predictor_factory_errors_and_custom_predictors(tmp_path):
    with pytest.raises(ValueError, match='model_path is empty'):
        build_predictor('')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        build_predictor(str(tmp_path / 'missing.onnx'))
    with pytest.raises(ValueError, match='cannot load'):
        build_predictor('no_such_module:Thing')
    toy = build_predictor('ros_testkit:ToyPredictor')      # a class: instantiated
    assert type(toy).__name__ == 'ToyPredictor'


def test_ament_package_files():
    root = ET.parse(PKG / 'package.xml').getroot()
    assert root.get('format') == '3' and root.findtext('name') == 'perception_ros'
    assert root.find('export/build_type').text == 'ament_python'
    deps = {e.text for e in root.findall('exec_depend')}
    assert {'rclpy', 'sensor_msgs', 'vision_msgs', 'diagnostic_msgs', 'lifecycle_msgs'} <= deps
    assert (PKG / 'resource' / 'perception_ros').is_file()
    setup = (PKG / 'setup.py').read_text()
    assert 'perception_node = perception_ros.perception_node:main' in setup
    for path in [PKG / 'setup.py', PKG / 'launch' / 'perception.launch.py',
                 PKG / 'perception_ros' / 'perception_node.py']:
        ast.parse(path.read_text(), str(path))
    assert 'colcon build' in (PKG / 'README.md').read_text()


def test_package_xml_declares_every_ros_package_the_node_and_launch_file_import():
    """colcon/rosdep install what package.xml lists: a module the launch file imports but the
    manifest omits (ament_index_python was one) breaks `ros2 launch` on a minimal install."""
    imported = set()
    for path in [PKG / 'launch' / 'perception.launch.py', *sorted(PKG.glob('perception_ros/*.py'))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split('.')[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split('.')[0])
    ros_packages = imported - set(sys.stdlib_module_names) - {'perception', 'perception_ros'}
    root = ET.parse(PKG / 'package.xml').getroot()
    declared = {e.text for e in root if e.tag in ('depend', 'exec_depend')}
    assert {'rclpy', 'launch', 'launch_ros'} <= ros_packages          # the scan sees the imports
    assert ros_packages <= declared, f'not in package.xml: {sorted(ros_packages - declared)}'


def test_core_imports_without_torch_openmmlab_cyclonedds_or_cv2():
    """A robot may have only numpy, pyyaml and rosbags: block the rest and import the core."""
    code = '''
import sys
BLOCKED = ('torch', 'mmengine', 'mmcv', 'mmseg', 'mmdet', 'cyclonedds', 'cv2', 'rclpy')
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is blocked for this test')
sys.meta_path.insert(0, Block())
import perception.ros as pr
from perception.ros import replay, core, sync, health, outputs, image_codec, bag_io, predictor_factory
pr.NodeConfig()
print('ok')
'''
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60,
                          cwd=str(PKG.parent))
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stderr


def test_former_threshold_parameter_names_are_read_with_a_warning():
    """``score_threshold``/``nms_threshold`` (before the one-vocabulary rename) still configure the
    node for one release, as ``score_thr``/``iou_thr``."""
    from perception.contract import ConfigError
    with pytest.warns(DeprecationWarning, match="'score_threshold' is deprecated, use 'score_thr'"):
        config = NodeConfig.from_params({'score_threshold': 0.4, 'nms_threshold': 0.7})
    assert (config.score_thr, config.iou_thr) == (0.4, 0.7)
    assert config.output_options().score_thr == 0.4
    with pytest.warns(DeprecationWarning, match='use score_thr'):
        assert config.score_threshold == 0.4
    with pytest.raises(ConfigError, match="both 'nms_threshold' and 'iou_thr'"):
        NodeConfig.from_params({'nms_threshold': 0.7, 'iou_thr': 0.6})


def test_a_config_model_needs_its_checkpoint_and_the_onnxruntime_options_reach_the_predictor(
        tmp_path, monkeypatch):
    """model_path a config without checkpoint_path is refused (it would run random weights); the
    checkpoint, ONNX Runtime threads and providers parameters reach perception.Predictor."""
    from perception.ros import predictor_factory
    from perception.ros.config import NodeConfig
    config_file = tmp_path / 'model.py'
    config_file.write_text('# a config\n')
    with pytest.raises(ValueError, match='checkpoint_path is empty: a config alone runs random'):
        predictor_factory.predictor_of(NodeConfig(model_path=str(config_file)))
    seen = {}

    class FakePredictor:
        def __init__(self, model, **kwargs):
            seen.update(kwargs, model=model)
    import perception.apis
    monkeypatch.setattr(perception.apis, 'Predictor', FakePredictor)
    params = {'model_path': str(config_file), 'checkpoint_path': '/w/iter_1200.pth',
              'ort_threads': 1, 'ort_providers': ['CPUExecutionProvider']}
    predictor_factory.predictor_of(NodeConfig.from_params(params))
    assert seen['checkpoint'] == '/w/iter_1200.pth' and seen['threads'] == 1
    assert seen['providers'] == ['CPUExecutionProvider'] and seen['model'] == str(config_file)
