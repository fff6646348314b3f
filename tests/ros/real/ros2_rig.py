"""The test side of the real-ROS 2 tests: perception_node started with ``ros2 launch`` from a colcon
workspace (``LaunchedNode``), and a second rclpy node (``Rig``) that publishes the sensor images as
rclpy messages, records every output (raw CDR, decoded by rosbags like the DDS rig, wire_rig) and
drives the lifecycle through the node's services, as ``ros2 lifecycle set`` does."""
from __future__ import annotations

import array
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import psutil
import rclpy
import ros2_env
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import GetParameters
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import parameter_value_to_python
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray
from wire_rig import OUTPUT_TOPICS, SENSOR_TOPICS, RigResult, RssSampler, play, summarise

from perception.ros.config import NodeConfig

TESTS_ROS = Path(__file__).resolve().parents[1]
PARAMS = TESTS_ROS.parents[1] / 'ros_nodes' / 'config' / 'params.yaml'
RCLPY_TYPES = {'labels': Image, 'overlay': Image, 'depth': Image, 'detections': Detection2DArray,
               'diagnostics': DiagnosticArray}
TRANSITIONS = {'configure': Transition.TRANSITION_CONFIGURE,
               'cleanup': Transition.TRANSITION_CLEANUP,
               'activate': Transition.TRANSITION_ACTIVATE,
               'deactivate': Transition.TRANSITION_DEACTIVATE,
               'shutdown': Transition.TRANSITION_ACTIVE_SHUTDOWN}


def wait_until(predicate: Callable[[], Any], timeout_s: float, period_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period_s)
    return bool(predicate())


def user_params_file(path: Path, **fields: Any) -> Path:
    """A user's parameters file: the shipped params.yaml's node key with every parameter of
    ``NodeConfig(**fields)`` (nested as in the shipped file)."""
    key = next(iter(yaml.safe_load(PARAMS.read_text())))
    nested: Dict[str, Any] = {}
    for name, value in NodeConfig(**fields).to_params().items():
        if value == []:          # unset (a static transform): rcl's parameter files have no []
            continue
        *groups, leaf = name.split('.')
        node = nested
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump({key: {'ros__parameters': nested}}, sort_keys=False))
    return path


def to_rclpy_image(msg: Any) -> Image:
    """The rosbags Image as an rclpy message (rclpy serialises it on publish)."""
    out = Image()
    out.header.stamp.sec, out.header.stamp.nanosec = msg.header.stamp.sec, msg.header.stamp.nanosec
    out.header.frame_id = msg.header.frame_id
    out.height, out.width, out.encoding = msg.height, msg.width, msg.encoding
    out.is_bigendian, out.step = msg.is_bigendian, msg.step
    out.data = array.array('B', msg.data.tobytes())      # array('B') is the setter's fast path
    return out


class LaunchedNode:
    """``ros2 launch perception_ros perception.launch.py ARG:=VALUE ...`` in its own process group,
    with the workspace's setup sourced; output goes to ``log_path``."""

    def __init__(self, workspace_setup: Path, args: Dict[str, Any], log_path: Path):
        self.log_path = log_path
        env = dict(os.environ, PYTHONUNBUFFERED='1',
                   # ros_testkit's test predictors, named as model_path module:attr
                   PYTHONPATH=os.pathsep.join([str(TESTS_ROS), os.environ.get('PYTHONPATH', '')]))
        cmd = ['ros2', 'launch', 'perception_ros', 'perception.launch.py',
               *[f'{k}:={v}' for k, v in args.items()]]
        self._log = log_path.open('w')
        self.proc = subprocess.Popen(ros2_env.sourced(cmd, workspace_setup), stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def node_process(self) -> Optional[psutil.Process]:
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        return next((c for c in children if 'perception_node' in ' '.join(c.cmdline())), None)

    def node_alive(self) -> bool:
        proc = self.node_process()
        return proc is not None and proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')

    def stop(self, timeout_s: float = 15.0) -> Optional[int]:
        """Ctrl-C to the launch (it stops the node), as a user would; the exit code."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


class Rig:
    """An rclpy node beside perception_node: sensor publishers, output recorders, lifecycle and
    parameter clients; spun by its own executor thread."""

    def __init__(self, node_fqn: str = '/perception_node', sensor_topics=SENSOR_TOPICS,
                 output_topics=OUTPUT_TOPICS, height: int = 120, width: int = 160):
        self.node_fqn, self.height, self.width = node_fqn, height, width
        self.node = rclpy.create_node('perception_test_rig')
        # like a camera driver: sensor-data QoS (best effort, keep last 5)
        self.pubs = {s: self.node.create_publisher(Image, t, qos_profile_sensor_data)
                     for s, t in sensor_topics.items()}
        self.records: Dict[str, List[Dict[str, Any]]] = {k: [] for k in output_topics}
        self._lock = threading.Lock()
        self.subs = {name: self.node.create_subscription(
            RCLPY_TYPES[name], topic, self._recorder(name), QoSProfile(depth=50), raw=True)
            for name, topic in output_topics.items()}
        self._change = self.node.create_client(ChangeState, f'{node_fqn}/change_state')
        self._get = self.node.create_client(GetState, f'{node_fqn}/get_state')
        self._params = self.node.create_client(GetParameters, f'{node_fqn}/get_parameters')
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def _recorder(self, name: str):
        def record(cdr: bytes) -> None:
            rec = summarise(name, cdr, time.time_ns())       # rosbags decodes what rclpy received
            with self._lock:
                self.records[name].append(rec)
        return record

    def close(self) -> None:
        self.executor.shutdown()
        self._thread.join(5)
        self.node.destroy_node()

    # --- lifecycle and parameters, through the node's services --------------------------------
    def _call(self, client, request, timeout_s: float):
        if not client.wait_for_service(timeout_sec=timeout_s):
            return None
        future = client.call_async(request)
        wait_until(future.done, timeout_s)
        return future.result() if future.done() else None

    def state(self, timeout_s: float = 5.0) -> Optional[str]:
        response = self._call(self._get, GetState.Request(), timeout_s)
        return response.current_state.label if response else None

    def wait_state(self, label: str, timeout_s: float) -> bool:
        return wait_until(lambda: self.state() == label, timeout_s, 0.2)

    def transition(self, name: str, timeout_s: float = 30.0) -> bool:
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[name]
        response = self._call(self._change, request, timeout_s)
        return bool(response and response.success)

    def parameters(self, names: List[str], timeout_s: float = 5.0) -> Dict[str, Any]:
        response = self._call(self._params, GetParameters.Request(names=names), timeout_s)
        assert response is not None, f'{self.node_fqn}/get_parameters did not answer'
        return {n: parameter_value_to_python(v) for n, v in zip(names, response.values)}

    # --- data ----------------------------------------------------------------------------------
    def connected(self, timeout_s: float = 20.0) -> bool:
        """Every sensor publisher has the node subscribed and every recorder has its publisher."""
        return wait_until(lambda: all(p.get_subscription_count() for p in self.pubs.values())
                          and all(s.get_publisher_count() for s in self.subs.values()), timeout_s)

    def outputs_since(self, name: str, recv_ns: int) -> List[Dict[str, Any]]:
        with self._lock:
            return [r for r in self.records[name] if r['recv'] >= recv_ns]

    def play(self, script: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        return play(script, self.height, self.width,
                    lambda sensor, msg: self.pubs[sensor].publish(to_rclpy_image(msg)))

    def run(self, script: List[Dict[str, Any]], node: LaunchedNode,
            drain_s: float = 1.0) -> RigResult:
        """Play ``script`` into the launched node, sampling its memory; the node's counters are the
        ones of its last diagnostics message."""
        assert self.connected(), 'the rig and perception_node did not match (DDS discovery)'
        rss = RssSampler(node.node_process()).start()
        try:
            sent = self.play(script)
            time.sleep(drain_s)
        finally:
            rss.stop()
        with self._lock:
            records = {k: list(v) for k, v in self.records.items()}
        stats = {}
        if records.get('diagnostics'):
            for key, value in records['diagnostics'][-1]['values'].items():
                try:
                    stats[key] = float(value)
                except ValueError:
                    stats[key] = value
        return RigResult(sent, records, stats, rss.samples)
