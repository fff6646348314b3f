"""ROS 2 integration without rclpy: message conversion, synchronisation, stale-sensor policy, the node
core, bag replay and a CycloneDDS transport (docs/ros.md).

Imports numpy, pyyaml and rosbags only; the DDS transport (``perception.ros.dds``,
``perception.ros.dds_node``) additionally needs cyclonedds and is imported on its own. Neither torch
nor the OpenMMLab stack is imported here: the model comes in through ``predictor_factory`` at call
time. ``perception.sensors`` (numpy + OpenCV) is imported when a frame needs it: registration from
CameraInfo, a model's 16-bit thermal scaling, 32FC1 depth. ``bag_frames`` reads a bag's frames the
way the node does, for training on robot logs.
"""
from .bag_frames import bag_frames
from .bag_io import BagMessage, BagWriter, bag_topics, read_messages
from .config import NodeConfig, QosSpec, load_params_file
from .core import FrameSet, PerceptionCore
from .health import SensorHealth
from .image_codec import (ENCODINGS, SENSOR_ENCODINGS, array_to_image, decode_sensor, encode_sensor,
                          image_to_array)
from .outputs import OUTPUT_TYPES, OUTPUTS, OutputOptions, result_messages
from .predictor_factory import build_predictor, predictor_of
from .replay import ReplayReport, feed_bag, replay_bag
from .sync import ApproximateTimeSync, SyncStats
from .typestore import deserialize, serialize

__all__ = [
    'BagMessage', 'BagWriter', 'bag_frames', 'bag_topics', 'read_messages', 'NodeConfig', 'QosSpec',
    'load_params_file', 'FrameSet', 'PerceptionCore', 'SensorHealth', 'ENCODINGS', 'SENSOR_ENCODINGS',
    'array_to_image', 'decode_sensor', 'encode_sensor', 'image_to_array', 'OUTPUT_TYPES', 'OUTPUTS',
    'OutputOptions', 'result_messages', 'build_predictor', 'predictor_of', 'ReplayReport', 'feed_bag',
    'replay_bag', 'ApproximateTimeSync', 'SyncStats', 'deserialize', 'serialize']
