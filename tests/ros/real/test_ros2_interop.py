"""rclpy (rmw_cyclonedds_cpp) and the CycloneDDS shim (perception.ros.dds, cyclonedds-python, no ROS)
on one domain: they discover each other by ROS 2 topic and type names (rmw_cyclonedds warns that the
shim's endpoints carry no ROS 2 type hash, and matches them anyway), and the CDR of every output type
is byte-identical both ways and with rosbags' serialisation, which the node, bag replay and the shim
all use."""
import multiprocessing as mp
import os
import time

import rclpy
import rclpy.executors
import ros_dds_peers as peers
from core_harness import Harness
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from perception.ros import typestore as ts
from perception.ros.dds import loopback_config
from perception.ros.image_codec import encode_sensor
from perception.ros.outputs import OUTPUT_TYPES

RCLPY = {ts.IMAGE: Image, ts.DETECTION2D_ARRAY: Detection2DArray,
         ts.DIAGNOSTIC_ARRAY: DiagnosticArray}


def node_outputs():
    """One set of the node core's outputs (rosbags messages), plus an odd-sized, row-padded input
    image: the CDR alignment cases of the messages on the wire."""
    h = Harness()
    h.frame(0)
    out = {name: (OUTPUT_TYPES[name], msg) for name, msg in h.out}
    odd = encode_sensor(h.images(0)['rgb'].data.reshape(-1)[:5 * 7 * 3].reshape(5, 7, 3).copy(),
                        'rgb', 'rgb8', ts.header(123_456_789, 'odd'), step=24)
    out['odd_image'] = (ts.IMAGE, odd)
    return {name: (msgtype, ts.serialize(msg, msgtype)) for name, (msgtype, msg) in out.items()}


def test_rclpy_serialises_the_node_outputs_like_rosbags(ros_context):
    for name, (msgtype, cdr) in node_outputs().items():
        typed = deserialize_message(cdr, RCLPY[msgtype])
        assert serialize_message(typed) == cdr, name


def test_cdr_is_byte_identical_between_rclpy_and_the_dds_shim(ros_context):
    messages = node_outputs()
    ctx = mp.get_context('spawn')
    ready, out_q = ctx.Event(), ctx.Queue()
    peer = ctx.Process(target=peers.cdr_interop_peer, daemon=True,
                       args=(int(os.environ['ROS_DOMAIN_ID']), loopback_config(), messages, ready,
                             out_q))
    peer.start()
    node = rclpy.create_node('perception_interop')
    got = {}
    try:
        assert ready.wait(60), 'the DDS shim peer did not start'
        pubs = {name: node.create_publisher(RCLPY[t], f'/interop/from_rclpy/{name}',
                                            QoSProfile(depth=10))
                for name, (t, _) in messages.items()}
        subs = [node.create_subscription(RCLPY[t], f'/interop/from_dds/{name}',
                                         (lambda n: lambda raw: got.setdefault(n, raw))(name),
                                         QoSProfile(depth=10), raw=True)
                for name, (t, _) in messages.items()]
        executor = rclpy.executors.SingleThreadedExecutor()
        executor.add_node(node)

        def spin_until(predicate, timeout_s):
            deadline = time.monotonic() + timeout_s
            while not predicate() and time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.05)
            return predicate()
        assert spin_until(lambda: all(p.get_subscription_count() for p in pubs.values())
                          and all(s.get_publisher_count() for s in subs), 30), \
            'rclpy and the DDS shim did not discover each other'
        for name, (msgtype, cdr) in messages.items():
            pubs[name].publish(deserialize_message(cdr, RCLPY[msgtype]))   # a typed rclpy message
        assert spin_until(lambda: len(got) == len(messages), 20), f'from the shim: only {sorted(got)}'
        result = out_q.get(timeout=60)
    finally:
        node.destroy_node()
        peer.join(10)
        if peer.is_alive():
            peer.terminate()
    assert result['matched']
    for name, (msgtype, cdr) in messages.items():
        # both DDS stacks pad the serialised payload with zeros to a multiple of 4 bytes (the
        # encapsulation options stay 0); readers ignore them, rosbags included
        wire = cdr + bytes(-len(cdr) % 4)
        assert got[name] == wire, f'{name}: shim -> rclpy bytes differ'
        assert result['received'].get(name) == wire, f'{name}: rclpy -> shim bytes differ'
        assert ts.serialize(ts.deserialize(wire, msgtype), msgtype) == cdr
