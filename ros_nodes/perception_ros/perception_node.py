"""perception_node: a lifecycle node around ``perception.ros.core.PerceptionCore``.

This layer only declares parameters, creates publishers/subscriptions/timers and moves bytes:
subscriptions are raw (CDR bytes, decoded by rosbags in ``perception.ros``) and publishers take the
CDR that ``perception.ros`` serialises, so the node behaves exactly like the DDS runner and bag replay
that are tested without ROS. Lifecycle:
  configure  -> read parameters, load the model, create the (lifecycle) publishers
  activate   -> subscribe, start the inference worker and the 10 Hz housekeeping timer
  deactivate -> unsubscribe, stop the worker (publishers stay, inactive)
  cleanup    -> drop publishers and the model
  shutdown / error processing -> drop everything
A transition that fails says why in the log and leaves nothing half made: rclpy turns an exception in a
transition callback into ERROR without logging it, and error processing would then leave the
publishers and subscriptions of a half-done transition alive for the next configure to orphan.
"""
from __future__ import annotations

import time
import traceback
import warnings
from typing import Any, Dict, List, Optional

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import Node, State, TransitionCallbackReturn
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from vision_msgs.msg import Detection2DArray, LabelInfo

from perception.ros import typestore as ts
from perception.contract import DEPRECATED_SETTING_NAMES
from perception.ros.config import DEPRECATED_CAMERA_INFO, NodeConfig, QosSpec
from perception.ros.core import PerceptionCore, counters_summary
from perception.ros.outputs import CLASS_OUTPUTS, OUTPUT_TYPES
from perception.ros.predictor_factory import predictor_of

ROS_TYPES = {ts.IMAGE: Image, ts.COMPRESSED_IMAGE: CompressedImage, ts.CAMERA_INFO: CameraInfo, ts.DETECTION2D_ARRAY: Detection2DArray,
             ts.LABEL_INFO: LabelInfo,
             ts.DIAGNOSTIC_ARRAY: DiagnosticArray}
TICK_PERIOD_S = 0.1
#: Former parameter names, declared (without a value) so that a params file still using them reaches
#: NodeConfig.from_params, which reads them as the new names with a warning; undeclared, rclpy would
#: drop them without a word.
FORMER_PARAMETERS = tuple(old for old, new in DEPRECATED_SETTING_NAMES.items()
                          if new in NodeConfig.parameter_names()) + (DEPRECATED_CAMERA_INFO,)


def qos_profile(spec: QosSpec) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=spec.depth,
        reliability=(ReliabilityPolicy.RELIABLE if spec.reliability == 'reliable'
                     else ReliabilityPolicy.BEST_EFFORT),
        durability=(DurabilityPolicy.TRANSIENT_LOCAL if spec.durability == 'transient_local'
                    else DurabilityPolicy.VOLATILE))


class PerceptionNode(Node):
    def __init__(self, node_name: str = 'perception_node', **kwargs: Any):
        super().__init__(node_name, **kwargs)
        for name, value in NodeConfig().to_params().items():
            if isinstance(value, list) and not value:
                # no value by default (a static transform): rclpy cannot infer the type of [], so
                # the parameter takes whatever array the params file gives
                self._declare_unset(name)
            else:
                self.declare_parameter(name, value)
        for name in FORMER_PARAMETERS:
            self._declare_unset(name)
        self.core: Optional[PerceptionCore] = None
        self._pubs: Dict[str, Any] = {}
        self._subs: List[Any] = []
        self._timer = None

    # --- lifecycle -----------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self._configure()
        except Exception as err:  # a bad parameter or model: stay unconfigured, say why
            self._failed('configure', err)
            self._release()
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f'configured: sensors {self.core.config.sensors}, '
                               f'outputs {sorted(self._pubs)}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        try:
            self._activate_inputs()
            # activates the lifecycle publishers; inside the try, so that a failure there is
            # logged and undone too
            result = super().on_activate(state)
            self.core.publish_classes()     # once the publishers are active
            return result
        except Exception as err:  # e.g. an invalid topic name: back to inactive, nothing subscribed
            self._failed('activate', err)
            self._teardown_inputs()
            return TransitionCallbackReturn.FAILURE

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        try:
            self._teardown_inputs()
            self.get_logger().info(counters_summary(self.core.stats()))
            return super().on_deactivate(state)
        except Exception as err:
            self._failed('deactivate', err)
            return TransitionCallbackReturn.ERROR      # error processing releases everything

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        # reached after a transition callback returned ERROR; SUCCESS goes to unconfigured, which
        # must then hold nothing
        self.get_logger().error(f'error processing (from {state.label}): releasing publishers, '
                                'subscriptions and the model')
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _set_by_user(self, name: str) -> bool:
        """Whether a params file or the command line gave ``name`` (not only its default)."""
        overrides = getattr(self, '_parameter_overrides', None)    # rclpy's, humble to jazzy
        if overrides is not None:
            return name in overrides
        return self.get_parameter(name).value != NodeConfig().to_params()[name]

    def _declare_unset(self, name: str) -> None:
        self.declare_parameter(name, None, ParameterDescriptor(dynamic_typing=True))

    def _configure(self) -> None:
        params = {name: self.get_parameter(name).value for name in NodeConfig.parameter_names()}
        # former names only when the params file (or a command line) set them; their new name then
        # holds its declared default, unless the user set it too (from_params refuses both)
        for name in FORMER_PARAMETERS:
            value = self.get_parameter(name).value
            if value is None:
                continue
            params[name] = value
            new = DEPRECATED_SETTING_NAMES.get(name)
            if new is not None and not self._set_by_user(new):
                del params[new]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', DeprecationWarning)
            config = NodeConfig.from_params(params, self.get_name())
        for warning in caught:          # into the ROS log, where a user of the node looks
            self.get_logger().warning(str(warning.message))
        predictor = predictor_of(config)
        names = set(config.publish) | {'diagnostics'}
        if config.output_camera_info:
            names.add('camera_info')
        for name in sorted(names):
            topic = config.output_topics.get(name)
            if topic:
                self._pubs[name] = self.create_lifecycle_publisher(
                    ROS_TYPES[OUTPUT_TYPES[name]], topic, qos_profile(config.output_qos_spec()))
        for name in CLASS_OUTPUTS:      # the class lists: transient local, for late subscribers
            if config.output_topics.get(name):
                self._pubs[name] = self.create_lifecycle_publisher(
                    ROS_TYPES[OUTPUT_TYPES[name]], config.output_topics[name],
                    qos_profile(config.class_qos_spec()))
        self.core = PerceptionCore(config, predictor, self._publish, clock=self._health_clock(),
                                   stamp_clock=lambda: self.get_clock().now().nanoseconds,
                                   logger=self.get_logger())

    def _health_clock(self):
        """The clock of staleness and sync ages: the ROS clock under ``use_sim_time`` (a bag's
        /clock: paused playback does not make sensors stale, a faster rate ages them faster),
        else the monotonic wall clock (no jumps when the system time is set)."""
        if self.get_parameter('use_sim_time').value:
            return lambda: self.get_clock().now().nanoseconds * 1e-9
        return time.monotonic

    def _activate_inputs(self) -> None:
        config = self.core.config
        for sensor in config.sensors:
            msgtype = config.input_type(sensor)   # raw Image or CompressedImage
            self._subs.append(self.create_subscription(
                ROS_TYPES[msgtype], config.topics[sensor], self._raw_image_callback(sensor, msgtype),
                qos_profile(config.input_qos_spec()), raw=True))
        for sensor, topic in config.camera_info_topics.items():
            if topic:
                self._subs.append(self.create_subscription(
                    CameraInfo, topic, self._raw_camera_info(sensor),
                    qos_profile(QosSpec.preset('default')), raw=True))
        self.core.start()
        self._timer = self.create_timer(TICK_PERIOD_S, self.core.tick)

    def _failed(self, transition: str, err: Exception) -> None:
        self.get_logger().error(f'{transition} failed: {type(err).__name__}: {err}')
        self.get_logger().debug(traceback.format_exc())

    # --- data path -----------------------------------------------------------------------------
    def _raw_image_callback(self, sensor: str, msgtype: str = ts.IMAGE):
        def callback(raw: bytes) -> None:
            core = self.core      # None once cleaned up: a callback already queued has nothing to do
            if core is None:
                return
            try:
                msg = ts.deserialize(raw, msgtype)
            except Exception as err:
                self.get_logger().warning(f'{sensor}: cannot decode {msgtype}: {err}')
                return
            core.on_image(sensor, msg)
        return callback

    def _raw_camera_info(self, sensor: str):
        def callback(raw: bytes) -> None:
            core = self.core
            if core is None:
                return
            try:
                msg = ts.deserialize(raw, ts.CAMERA_INFO)
            except Exception as err:
                self.get_logger().warning(f'{sensor} camera_info: cannot decode '
                                          f'sensor_msgs/CameraInfo: {err}')
                return
            core.on_camera_info(sensor, msg)
        return callback

    def _publish(self, name: str, msg: Any) -> None:
        pub = self._pubs.get(name)
        if pub is not None:
            pub.publish(ts.serialize(msg, OUTPUT_TYPES[name]))   # rclpy publishes raw CDR bytes

    def _teardown_inputs(self) -> None:
        subs, self._subs = self._subs, []
        for sub in subs:
            self.destroy_subscription(sub)
        timer, self._timer = self._timer, None
        if timer is not None:
            self.destroy_timer(timer)
        if self.core is not None:
            self.core.stop()

    def _release(self) -> None:
        """Inputs, publishers and the model: back to what an unconfigured node holds -- all of it
        even when a step fails (error processing runs this after a failed transition, and must not
        fail in turn: rclpy would then finalize the node with everything still alive)."""
        try:
            self._teardown_inputs()
        except Exception as err:
            self._failed('releasing the inputs', err)
            self._subs.clear()
            self._timer = None
        for pub in self._pubs.values():
            # not destroy_publisher: that leaves the publisher among the node's managed entities
            self.destroy_lifecycle_publisher(pub)
        self._pubs.clear()
        self.core = None


def main(args: Optional[List[str]] = None) -> None:
    rclpy.init(args=args)
    node = PerceptionNode()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
