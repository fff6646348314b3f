"""End-to-end latency budget of perception_node at VGA (issue 25): a camera rig of a 640x480 colour
camera, a 640x512 thermal camera and a 640x480 depth camera at other poses, registered onto the
colour grid by the node, at 30 Hz into the node started through its real entry point with an
exported model; prints stamp-to-publish percentiles and the node's own per-stage times.

    # CycloneDDS shim (python -m perception.ros.dds_node), no ROS 2 needed
    python tools/ros_vga_rig.py --backend dds --seconds 10 --onnx nano_480x640.onnx
    # real ROS 2 (ros2 launch perception_ros perception.launch.py), in a shell with it sourced
    python tools/ros_vga_rig.py --backend rclpy --seconds 10 --onnx nano_480x640.onnx

Without --onnx the nano network (configs/_base_/models/nano.py, random weights: latency only) is
exported for rgb+thermal+depth at the colour size first. ``--model module:attr`` runs a test
predictor instead (tests/ros/ros_testkit.py; behaviour checks at small sizes).

Each frame set is stamped with ``time.time_ns()`` when the rig builds it (rgb; thermal and depth
1 and 2 ms later, as unsynchronised cameras are) and goes out with each camera's CameraInfo.
Stamp-to-publish is the DDS source timestamp of a set's last output (when the node wrote it) minus
its stamp; stamp-to-receive adds the delivery to the recording peer. The node's per-stage times
are the running means ``ms.<stage>`` of its last /diagnostics message.

Before the measured seconds the cameras prime the node: sets at the same rate until its first
output comes back (not measured; the table says how many and how long). A node's one-off start
costs stay out of the figures that way, and a fixed-length run cannot end before the node is
ready: its registration compiles the numba passes when the first CameraInfo arrives (about 5 s
where numba's cache is cold, as on a fresh clone).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing as mp
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TESTS_ROS = REPO / 'tests' / 'ros'     # ros2_env (domains, sourcing), ros_testkit (test predictors)
for _path in (str(REPO), str(TESTS_ROS)):
    if _path not in sys.path:
        sys.path.append(_path)

SENSORS = ('rgb', 'thermal', 'depth')
IMAGE_TOPICS = {'rgb': '/camera/color/image_raw', 'thermal': '/thermal/image_raw',
                'depth': '/camera/depth/image_rect_raw'}
INFO_TOPICS = {'rgb': '/camera/color/camera_info', 'thermal': '/thermal/camera_info',
               'depth': '/camera/depth/camera_info'}
ENCODINGS = {'rgb': 'rgb8', 'thermal': 'mono16', 'depth': '16UC1'}
SKEW_NS = {'rgb': 0, 'thermal': 1_000_000, 'depth': 2_000_000}
OUTPUTS = ('labels', 'overlay', 'detections', 'depth', 'camera_info', 'diagnostics')
STAGES = ('decode', 'register', 'preprocess', 'inference', 'postprocess', 'encode', 'publish')
# The rig at VGA (colour width 640): size (width, height) and focal length (px) of each camera,
# and where thermal and depth sit relative to the colour camera ([x, y, z, qx, qy, qz, qw], metres,
# the transform parameters of docs/ros.md). Thermal: a 640x512 LWIR core with a ~50 degree lens,
# 5 cm to the side, yawed 2 degrees; depth: a wider stereo depth camera 2.5 cm the other way.
VGA = {'rgb': (640, 480, 525.0), 'thermal': (640, 512, 690.0), 'depth': (640, 480, 385.0)}
_YAW = math.radians(2.0) / 2
THERMAL_TO_RGB = [0.05, 0.0, 0.0, 0.0, math.sin(_YAW), 0.0, math.cos(_YAW)]
DEPTH_TO_RGB = [-0.025, 0.003, 0.0, 0.0, 0.0, 0.0, 1.0]
PLANE_DISTANCE = 4.0


def cameras(width: int = 640) -> Dict[str, tuple]:
    """(width, height, focal) of each camera of the rig, scaled to a colour ``width``."""
    s = width / 640
    return {k: (int(round(w * s)), int(round(h * s)), f * s) for k, (w, h, f) in VGA.items()}


def node_fields(model: str, width: int = 640, **extra: Any) -> Dict[str, Any]:
    """NodeConfig fields of the rig's node: every camera registered onto the colour grid."""
    fields = dict(model_path=model, topics=dict(IMAGE_TOPICS), camera_info_topics=dict(INFO_TOPICS),
                  thermal_to_rgb=tuple(THERMAL_TO_RGB), depth_to_rgb=tuple(DEPTH_TO_RGB),
                  plane_distance=PLANE_DISTANCE, slop=0.01, stale_timeout=0.5,
                  diagnostics_period=0.5)
    fields.update(extra)
    return fields


def write_params(path: Path, fields: Dict[str, Any]) -> Path:
    """A ROS 2 parameters file (nested, under ``/**/perception_node``) of NodeConfig(**fields):
    what both the DDS runner and the launch file read."""
    import yaml

    from perception.ros.config import NodeConfig
    nested: Dict[str, Any] = {}
    for name, value in NodeConfig(**fields).to_params().items():
        if value == []:          # unset (a transform): rcl's parameter files have no []
            continue
        *groups, leaf = name.split('.')
        node = nested
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump({'/**/perception_node': {'ros__parameters': nested}},
                                   sort_keys=False))
    return path


# --- the frames --------------------------------------------------------------------------------
def scene(index: int, sensor: str, width: int, height: int) -> np.ndarray:
    """One camera's view of frame ``index``: a warm, near square moving across a textured scene
    (values as perception.ros.image_codec.encode_sensor takes them)."""
    rng = np.random.default_rng(index * 3 + SENSORS.index(sensor))
    size = height // 4
    x0 = int((index * 7) % max(1, width - size))
    y0 = height // 3
    if sensor == 'rgb':
        img = rng.integers(40, 200, (height, width, 3), dtype=np.uint8)
        img[y0:y0 + size, x0:x0 + size] = (230, 220, 200)
        return img
    if sensor == 'thermal':
        img = (0.3 + 0.05 * rng.random((height, width))).astype(np.float32)
        img[y0:y0 + size, x0:x0 + size] = 0.8
        return img
    img = np.full((height, width), 3.0, np.float32)
    img[y0:y0 + size, x0:x0 + size] = 1.5
    img[:4, :6] = 0.0                                   # a hole
    return img


class Frames:
    """The rig's messages: ``distinct`` frames per camera (encoded once), re-stamped per send."""

    def __init__(self, width: int, distinct: int = 8):
        from perception.ros import typestore as ts
        from perception.ros.image_codec import encode_sensor
        from perception.ros.typestore import pinhole_camera_info
        self.cams = cameras(width)
        self.frame_ids = {s: f'{s}_optical_frame' for s in SENSORS}
        self.images = [{s: encode_sensor(scene(i, s, w, h), s, ENCODINGS[s],
                                         ts.header(0, self.frame_ids[s]))
                        for s, (w, h, _) in self.cams.items()} for i in range(distinct)]
        self.infos = {s: pinhole_camera_info(w, h, f, self.frame_ids[s])
                      for s, (w, h, f) in self.cams.items()}

    def messages(self, index: int, stamp: int) -> Dict[str, Any]:
        """``{'image.<sensor>' | 'info.<sensor>': rosbags message}`` of set ``index``."""
        from perception.ros import typestore as ts
        out = {}
        for s in SENSORS:
            header = ts.header(stamp + SKEW_NS[s], self.frame_ids[s])
            out[f'image.{s}'] = dataclasses.replace(self.images[index % len(self.images)][s],
                                                    header=header)
            out[f'info.{s}'] = dataclasses.replace(self.infos[s], header=header)
        return out


def channels() -> Dict[str, tuple]:
    """channel -> (topic, type, QoS preset): images best effort (a camera driver's), infos
    reliable."""
    from perception.ros import typestore as ts
    out = {f'image.{s}': (t, ts.IMAGE, 'sensor_data') for s, t in IMAGE_TOPICS.items()}
    out.update({f'info.{s}': (t, ts.CAMERA_INFO, 'default') for s, t in INFO_TOPICS.items()})
    return out


def play(frames: Frames, seconds: float, rate_hz: float, publish, start: int = 0,
         until=None) -> List[int]:
    """Publish a set every 1/rate_hz s (wall-clock pace), sets ``start, start + 1, ...``, for
    ``seconds`` or, given ``until`` (a no-argument predicate), until it holds or ``seconds``
    pass; the stamps sent."""
    stamps: List[int] = []
    period = 1.0 / rate_hz
    t_next = time.monotonic()
    t_end = t_next + seconds
    index = start
    while time.monotonic() < t_end and not (until is not None and until()):
        stamp = time.time_ns()
        for channel, msg in frames.messages(index, stamp).items():
            publish(channel, msg)
        stamps.append(stamp)
        index += 1
        t_next += period
        time.sleep(max(0.0, t_next - time.monotonic()))
    return stamps


def prime_and_play(frames: Frames, seconds: float, rate_hz: float, publish, flowing,
                   prime_s: float) -> Dict[str, Any]:
    """Sets at ``rate_hz`` until the node's first output reaches the recorder (``flowing``, an
    Event; at most ``prime_s`` s), then ``seconds`` of the sets that are measured. Priming takes
    the node's one-off start costs out of a fixed-length run: its registration compiles its
    passes (numba: seconds on a machine whose cache is cold) when the first CameraInfo comes."""
    t0 = time.monotonic()
    primed = play(frames, prime_s, rate_hz, publish, until=flowing.is_set)
    prime_took = time.monotonic() - t0
    if not flowing.is_set():
        return {'flowing': False, 'primed': primed, 'prime_s': prime_took, 'stamps': []}
    stamps = play(frames, seconds, rate_hz, publish, start=len(primed))
    return {'flowing': True, 'primed': primed, 'prime_s': prime_took, 'stamps': stamps}


def output_topic(name: str) -> str:
    """Where the node (default output_topics, no namespace) publishes output ``name``."""
    return '/diagnostics' if name == 'diagnostics' else f'/perception/{name}'


def header_of(cdr: bytes) -> tuple:
    """(stamp ns, frame_id) of a message that starts with a std_msgs/Header, from its CDR."""
    endian = '<' if cdr[1] & 1 else '>'
    sec, nsec, n = struct.unpack_from(endian + 'iII', cdr, 4)
    return sec * 1_000_000_000 + nsec, bytes(cdr[16:16 + n - 1]).decode()


def diagnostics_of(cdr: bytes) -> Dict[str, Any]:
    from perception.ros import typestore as ts
    msg = ts.deserialize(cdr, ts.DIAGNOSTIC_ARRAY)
    summary = msg.status[0]
    return {'level': int(summary.level), 'message': summary.message,
            'values': {kv.key: kv.value for kv in summary.values}}


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


# --- peers on the CycloneDDS shim (multiprocessing 'spawn') ---------------------------------------
def dds_publisher(domain: int, xml: str, width: int, seconds: float, rate_hz: float,
                  flowing, prime_s: float, out_q) -> None:
    from perception.ros.config import QosSpec
    from perception.ros.dds import DdsBus
    frames = Frames(width)
    bus = DdsBus(domain, xml)
    pubs = {c: bus.publisher(t, m, QosSpec.preset(q)) for c, (t, m, q) in channels().items()}
    matched = _wait(lambda: all(p.matched_subscriptions() for p in pubs.values()), 180.0)
    played = prime_and_play(frames, seconds, rate_hz, lambda c, msg: pubs[c].publish(msg),
                            flowing, prime_s) if matched else {}
    out_q.put({'matched': matched, **played})
    time.sleep(0.3)
    bus.close()


def recording(flowing=None):
    """``(records, diagnostics, recorder)``: ``recorder(output)`` is a ``callback(cdr, info)``
    that appends ``(output, stamp, frame_id, written, received)`` to records (``written``: the
    sample's source timestamp) or the decoded diagnostics, both peers' way; the first record
    sets ``flowing`` (an Event), if given."""
    records: List[tuple] = []
    diags: List[Dict[str, Any]] = []

    def recorder(name):
        def record(cdr, info):
            recv = time.time_ns()
            if name == 'diagnostics':
                diags.append({'recv': recv, **diagnostics_of(cdr)})
            else:
                stamp, frame_id = header_of(cdr)
                records.append((name, stamp, frame_id, info.get('source_timestamp'), recv))
                if flowing is not None and not flowing.is_set():
                    flowing.set()
        return record
    return records, diags, recorder


def dds_recorder(domain: int, xml: str, ready, flowing, stop, out_q) -> None:
    from perception.ros.config import QosSpec
    from perception.ros.dds import DdsBus
    from perception.ros.outputs import OUTPUT_TYPES
    records, diags, recorder = recording(flowing)
    bus = DdsBus(domain, xml)
    subs = [bus.subscribe(output_topic(n), OUTPUT_TYPES[n], recorder(n),
                          QosSpec.preset('default', 50), raw=True, with_info=True) for n in OUTPUTS]
    bus.start()
    ok = _wait(lambda: all(s.matched_publications() for s in subs), 180.0)
    ready.set()
    stop.wait(600.0)
    time.sleep(0.2)
    bus.close()
    out_q.put({'matched': ok, 'records': records, 'diagnostics': diags})


# --- peers on real rclpy ------------------------------------------------------------------------
def rclpy_publisher(width: int, seconds: float, rate_hz: float, flowing, prime_s: float,
                    out_q) -> None:
    import array

    import rclpy
    from rclpy.qos import QoSProfile, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image
    frames = Frames(width)
    rclpy.init()
    node = rclpy.create_node('vga_rig_cameras')
    pubs = {}
    for c, (topic, _, qos) in channels().items():
        kind = Image if c.startswith('image.') else CameraInfo
        pubs[c] = node.create_publisher(kind, topic, qos_profile_sensor_data if qos == 'sensor_data'
                                        else QoSProfile(depth=10))

    def to_rclpy(channel, msg):
        if channel.startswith('image.'):
            out = Image()
            out.height, out.width, out.encoding = msg.height, msg.width, msg.encoding
            out.is_bigendian, out.step = msg.is_bigendian, msg.step
            out.data = array.array('B', msg.data.tobytes())
        else:
            out = CameraInfo()
            out.height, out.width = msg.height, msg.width
            out.distortion_model = msg.distortion_model
            out.d, out.k, out.r, out.p = (list(map(float, v)) for v in (msg.d, msg.k, msg.r, msg.p))
        stamp = msg.header.stamp
        out.header.stamp.sec, out.header.stamp.nanosec = stamp.sec, stamp.nanosec
        out.header.frame_id = msg.header.frame_id
        return out

    matched = _wait(lambda: all(p.get_subscription_count() for p in pubs.values()), 180.0)
    played = prime_and_play(frames, seconds, rate_hz,
                            lambda c, msg: pubs[c].publish(to_rclpy(c, msg)),
                            flowing, prime_s) if matched else {}
    out_q.put({'matched': matched, **played})
    time.sleep(0.3)
    node.destroy_node()
    rclpy.try_shutdown()


def rclpy_recorder(ready, flowing, stop, out_q) -> None:
    import threading

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray
    types = {'labels': Image, 'overlay': Image, 'depth': Image, 'detections': Detection2DArray,
             'camera_info': CameraInfo, 'diagnostics': DiagnosticArray}
    records, diags, recorder = recording(flowing)
    rclpy.init()
    node = rclpy.create_node('vga_rig_recorder')
    subs = [node.create_subscription(types[n], output_topic(n), recorder(n), QoSProfile(depth=50),
                                     raw=True) for n in OUTPUTS]
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    ok = _wait(lambda: all(s.get_publisher_count() for s in subs), 180.0)
    ready.set()
    stop.wait(600.0)
    time.sleep(0.2)
    executor.shutdown()
    thread.join(5)
    node.destroy_node()
    rclpy.try_shutdown()
    out_q.put({'matched': ok, 'records': records, 'diagnostics': diags})


# --- the node -----------------------------------------------------------------------------------
def export_nano(out: Path, height: int, width: int) -> Path:
    """`perception export` of the nano network (rgb+thermal+depth, random weights) at HxW."""
    cmd = [sys.executable, '-m', 'perception.cli', 'export',
           str(REPO / 'configs' / '_base_' / 'models' / 'nano.py'), '--output', str(out),
           '--shape', str(height), str(width), '--parity-synthetic', '1']
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f'export failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}')
    return out


def build_workspace(ws: Path) -> Path:
    """ros_nodes built by colcon with this interpreter (as tests/ros/real/conftest.py does):
    the workspace's install/local_setup.bash."""
    import ros2_env
    ws.mkdir(parents=True, exist_ok=True)
    proc = ros2_env.colcon_build_nodes(ws, 600)
    if proc.returncode != 0:
        raise RuntimeError(f'colcon build failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}')
    return ws / 'install' / 'local_setup.bash'


def start_node(backend: str, params: Path, model: str, log_path: Path, domain: int,
               workspace: Optional[Path]) -> subprocess.Popen:
    """The node through its entry point, in its own process group (SIGINT stops it)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS_ROS),
                                           os.environ.get('PYTHONPATH', '')]))
    if backend == 'dds':
        cmd = [sys.executable, '-m', 'perception.ros.dds_node', '--params', str(params),
               '--model', model, '--domain-id', str(domain), '--loopback']
    else:
        import ros2_env
        cmd = ros2_env.sourced(['ros2', 'launch', 'perception_ros', 'perception.launch.py',
                                f'params_file:={params}', f'model_path:={model}'], workspace)
    log = log_path.open('w')
    return subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def stop_node(proc: subprocess.Popen, timeout_s: float = 20.0) -> Optional[int]:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


def run(backend: str = 'dds', seconds: float = 10.0, model: Optional[str] = None,
        width: int = 640, rate_hz: float = 30.0, warmup_s: float = 1.0, drain_s: float = 1.0,
        workdir: Optional[Path] = None, workspace: Optional[Path] = None,
        domain: Optional[int] = None, prime_s: float = 180.0,
        **node_extra: Any) -> Dict[str, Any]:
    """One run of the rig; returns the raw records (``figures(...)`` makes the table). The
    cameras first prime the node (sets until its first output comes back, at most ``prime_s``
    s), then publish the ``seconds`` that are measured."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix='ros_vga_rig_'))
    workdir.mkdir(parents=True, exist_ok=True)
    height = cameras(width)['rgb'][1]
    if model is None:
        model = str(export_nano(workdir / f'nano_{height}x{width}.onnx', height, width))
    params = write_params(workdir / 'params.yaml', node_fields(model, width, **node_extra))
    import ros2_env

    from perception.ros.dds import loopback_config
    xml = loopback_config()
    ctx = mp.get_context('spawn')
    ready, flowing, stop = ctx.Event(), ctx.Event(), ctx.Event()
    rec_q, pub_q = ctx.Queue(), ctx.Queue()
    env_backup = dict(os.environ)
    if backend == 'dds':
        domain = ros2_env.DDS_SHIM_DOMAINS[os.getpid() % len(ros2_env.DDS_SHIM_DOMAINS)] \
            if domain is None else domain
        rec = ctx.Process(target=dds_recorder, args=(domain, xml, ready, flowing, stop, rec_q),
                          daemon=True)
        pub = ctx.Process(target=dds_publisher, args=(domain, xml, width, seconds, rate_hz,
                                                      flowing, prime_s, pub_q), daemon=True)
    else:
        if domain is None:       # the session's (tests/ros/real/conftest.py), else one of them
            domain = int(os.environ.get('ROS_DOMAIN_ID') or ros2_env.REAL_ROS_DOMAINS[
                os.getpid() % len(ros2_env.REAL_ROS_DOMAINS)])
        os.environ.update(ROS_DOMAIN_ID=str(domain), CYCLONEDDS_URI=xml,
                          RMW_IMPLEMENTATION='rmw_cyclonedds_cpp',
                          ROS_LOG_DIR=str(workdir / 'ros_log'))
        if workspace is None:     # a build of an earlier run in this work folder, else a new one
            workspace = workdir / 'ws' / 'install' / 'local_setup.bash'
            if not workspace.is_file():
                workspace = build_workspace(workdir / 'ws')
        rec = ctx.Process(target=rclpy_recorder, args=(ready, flowing, stop, rec_q), daemon=True)
        pub = ctx.Process(target=rclpy_publisher, args=(width, seconds, rate_hz, flowing, prime_s,
                                                        pub_q), daemon=True)
    log_path = workdir / 'node.log'
    node = start_node(backend, params, model, log_path, domain, workspace)
    try:
        rec.start()
        pub.start()
        pub_result = pub_q.get(timeout=seconds + prime_s + 240)
        if not pub_result['matched']:
            raise RuntimeError('the cameras never matched the node; node log:\n'
                               + log_path.read_text()[-3000:])
        if not pub_result['flowing']:
            raise RuntimeError(f"no output of the node came back in {pub_result['prime_s']:.0f} s "
                               f"of priming ({len(pub_result['primed'])} sets sent); node log:\n"
                               + log_path.read_text()[-3000:])
        time.sleep(drain_s)
        stop.set()
        rec_result = rec_q.get(timeout=60)
        alive = node.poll() is None
    finally:
        stop.set()
        rc = stop_node(node)
        for p in (pub, rec):
            if p.pid is not None:
                p.join(10)
                if p.is_alive():
                    p.terminate()
        os.environ.clear()
        os.environ.update(env_backup)
    return dict(backend=backend, width=width, height=height, rate_hz=rate_hz, seconds=seconds,
                warmup_s=warmup_s, model=model, sent=pub_result['stamps'],
                primed=pub_result['primed'], prime_s=pub_result['prime_s'],
                records=rec_result['records'], diagnostics=rec_result['diagnostics'],
                recorder_matched=rec_result['matched'], node_alive=alive, node_exit=rc,
                node_log=str(log_path), cameras=cameras(width))


def cpu_model() -> str:
    """The CPU's model name (perception.hardware: what every benchmark prints)."""
    from perception.hardware import cpu_info
    return str(cpu_info()['model'])


def _pct(values: List[float]) -> Dict[str, Optional[float]]:
    if not values:
        return {'p50': None, 'p90': None, 'max': None}
    a = np.asarray(values)
    return {'p50': round(float(np.median(a)), 1), 'p90': round(float(np.percentile(a, 90)), 1),
            'max': round(float(a.max()), 1)}


def figures(run_result: Dict[str, Any]) -> Dict[str, Any]:
    """Frames sent/received, stamp-to-publish and stamp-to-receive percentiles (sets stamped after
    the warm-up), the node's per-stage means from its last /diagnostics, and the verdict."""
    sent = run_result['sent']
    t0 = (sent[0] if sent else 0) + int(run_result['warmup_s'] * 1e9)
    sets: Dict[int, Dict[str, Any]] = {}
    for name, stamp, _, source, recv in run_result['records']:
        if name == 'camera_info' or stamp < (sent[0] if sent else 0):
            continue                               # primed sets (before the measured ones)
        s = sets.setdefault(stamp, {'names': set(), 'published': [], 'recv': []})
        s['names'].add(name)
        if source:
            s['published'].append(source)
        s['recv'].append(recv)
    measured = [(st, s) for st, s in sets.items() if st >= t0]
    to_publish = [(max(s['published']) - st) / 1e6 for st, s in measured if s['published']]
    to_receive = [(max(s['recv']) - st) / 1e6 for st, s in measured]
    diag = run_result['diagnostics'][-1] if run_result['diagnostics'] else {'values': {}}
    stages = {}
    for stage in STAGES:
        value = diag['values'].get(f'ms.{stage}')
        stages[stage] = round(float(value), 2) if value is not None else None
    inference = stages.get('inference')
    p50 = _pct(to_publish)['p50']
    # n/a without the Predictor's own inference time (a test predictor reports none: 0)
    verdict = None if p50 is None or not inference else bool(p50 <= inference + 10.0)
    cams = run_result['cameras']
    return dict(
        backend=run_result['backend'], cpu=cpu_model(),
        rig={s: f'{w}x{h}' for s, (w, h, _) in cams.items()}, rate_hz=run_result['rate_hz'],
        seconds=run_result['seconds'], warmup_s=run_result['warmup_s'],
        model=os.path.basename(run_result['model']),
        primed_sets=len(run_result['primed']), prime_s=round(run_result['prime_s'], 2),
        frames_sent=len(sent), sets_received=len(sets),
        frames_sent_after_warmup=sum(1 for s in sent if s >= t0),
        sets_received_after_warmup=len(measured),
        stamp_to_publish_ms=_pct(to_publish), stamp_to_receive_ms=_pct(to_receive),
        node_ms=stages, node_processed=diag['values'].get('processed'),
        node_busy_dropped=diag['values'].get('busy_dropped'),
        goal='stamp-to-publish p50 <= inference + 10 ms', goal_met=verdict)


def table(f: Dict[str, Any]) -> str:
    lines = [f"backend {f['backend']}   CPU {f['cpu']}",
             'rig ' + ', '.join(f'{s} {v}' for s, v in f['rig'].items())
             + f" at {f['rate_hz']:g} Hz for {f['seconds']:g} s, model {f['model']}",
             f"primed with {f['primed_sets']} sets until the first output came back "
             f"({f['prime_s']:.1f} s; not measured)",
             f"frames sent {f['frames_sent']}, sets received {f['sets_received']} "
             f"(after {f['warmup_s']:g} s warm-up: {f['frames_sent_after_warmup']} sent, "
             f"{f['sets_received_after_warmup']} received)",
             '{:<26}{:>8}{:>8}{:>8}'.format('ms', 'p50', 'p90', 'max')]
    for key in ('stamp_to_publish_ms', 'stamp_to_receive_ms'):
        v = f[key]
        lines.append('{:<26}{:>8}{:>8}{:>8}'.format(key[:-3].replace('_', '-'), *(
            '-' if v[k] is None else f'{v[k]:.1f}' for k in ('p50', 'p90', 'max'))))
    lines.append("node's stage means (ms, /diagnostics): " + ', '.join(
        f'{k} {"-" if v is None else f"{v:.1f}"}' for k, v in f['node_ms'].items()))
    lines.append(f"processed {f['node_processed']}, busy_dropped {f['node_busy_dropped']}")
    inference = f['node_ms'].get('inference')
    verdict = {True: 'MET', False: 'NOT MET', None: 'n/a'}[f['goal_met']]
    lines.append(f"goal: {f['goal']} ({f['stamp_to_publish_ms']['p50']} <= "
                 f"{inference} + 10): {verdict}")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--backend', choices=['dds', 'rclpy'], default='dds')
    parser.add_argument('--seconds', type=float, default=10.0, help='how long the cameras publish')
    parser.add_argument('--onnx', help='exported model for rgb+thermal+depth at the colour size '
                        '(default: export the nano there)')
    parser.add_argument('--model',
                        help='any model_path instead (e.g. ros_testkit:toy_predictor_5ms)')
    parser.add_argument('--width', type=int, default=640,
                        help='colour width; every camera scales with it (640: the VGA rig)')
    parser.add_argument('--rate', type=float, default=30.0, help='Hz')
    parser.add_argument('--warmup', type=float, default=1.0,
                        help='seconds of sets left out of the percentiles (first inferences)')
    parser.add_argument('--ort-threads', type=int, default=0, help='the node\'s ort_threads')
    parser.add_argument('--workspace', help='rclpy: install/local_setup.bash of a colcon build of '
                        'ros_nodes (default: build one in the work folder)')
    parser.add_argument('--workdir', help='where the params, logs (and export) go')
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args(argv)
    model = args.model or args.onnx
    result = run(args.backend, args.seconds, model, args.width, args.rate, args.warmup,
                 workdir=Path(args.workdir) if args.workdir else None,
                 workspace=Path(args.workspace) if args.workspace else None,
                 ort_threads=args.ort_threads)
    f = figures(result)
    print(table(f))
    if args.json:
        Path(args.json).write_text(json.dumps(f, indent=1))
    if not result['node_alive']:
        print(f"the node died; its log: {result['node_log']}")
        return 1
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
