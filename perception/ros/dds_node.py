"""The perception node on the DDS transport: ROS 2 topics in and out with no ROS 2 installed.

    python -m perception.ros.dds_node --params ros_nodes/config/params.yaml --model model.onnx

Same parameters, topics, QoS and behaviour as the rclpy node (``ros_nodes/``); both are thin shells
around :class:`perception.ros.core.PerceptionCore`. Use it where ROS 2 is not installed (a container,
a CI machine) but ROS 2 nodes on the same DDS domain (rmw_cyclonedds) should see the results.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from .config import NodeConfig, QosSpec, load_params_file
from .core import PerceptionCore, PredictorFn, counters_summary
from .dds import DdsBus, DdsPublisher, DdsSubscription, loopback_config
from .outputs import CLASS_OUTPUTS, OUTPUT_TYPES
from .typestore import CAMERA_INFO
TICK_PERIOD_S = 0.1


class DdsPerceptionNode:
    def __init__(self, config: NodeConfig, predictor: PredictorFn, bus: DdsBus,
                 clock: Callable[[], float] = time.monotonic, logger: Optional[Any] = None):
        self.config, self.bus = config, bus
        self.log = logger or logging.getLogger('perception.ros')
        self.core = PerceptionCore(config, predictor, self._publish, clock=clock, logger=self.log)
        config = self.core.config   # only the sensors the model uses are subscribed
        self.publishers: Dict[str, DdsPublisher] = {}
        wanted = set(config.publish) | {'diagnostics'}
        if config.output_camera_info:
            wanted.add('camera_info')
        for name in wanted:
            topic = config.output_topics.get(name)
            if topic:
                self.publishers[name] = bus.publisher(topic, OUTPUT_TYPES[name], config.output_qos_spec())
        for name in CLASS_OUTPUTS:      # the class lists: transient local, for late subscribers
            if config.output_topics.get(name):
                self.publishers[name] = bus.publisher(config.output_topics[name], OUTPUT_TYPES[name],
                                                      config.class_qos_spec())
        self.subscriptions: List[DdsSubscription] = []
        for sensor in config.sensors:     # raw Image or CompressedImage (topics.<sensor>_transport)
            self.subscriptions.append(bus.subscribe(
                config.topics[sensor], config.input_type(sensor), self._image_callback(sensor),
                config.input_qos_spec()))
        for sensor, topic in config.camera_info_topics.items():
            if topic:
                self.subscriptions.append(bus.subscribe(topic, CAMERA_INFO,
                                                        self._camera_info_callback(sensor),
                                                        QosSpec.preset('default')))
        self._stop = threading.Event()
        self._ticker: Optional[threading.Thread] = None

    def _image_callback(self, sensor: str) -> Callable[[Any], None]:
        return lambda msg: self.core.on_image(sensor, msg)

    def _camera_info_callback(self, sensor: str) -> Callable[[Any], None]:
        return lambda msg: self.core.on_camera_info(sensor, msg)

    def _publish(self, name: str, msg: Any) -> None:
        pub = self.publishers.get(name)
        if pub is not None:
            pub.publish(msg)

    def start(self) -> None:
        self.core.start()
        self.bus.start()
        self.core.publish_classes()
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick_loop, name='perception-tick', daemon=True)
        self._ticker.start()

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_PERIOD_S):
            self.core.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(5.0)
        self.core.stop()      # the worker may still publish: stop it before the writers go away
        self.bus.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--params', help='ROS 2 parameters YAML (ros_nodes/config/params.yaml)')
    parser.add_argument('--node-name', default='perception_node')
    parser.add_argument('--model', help='model file (overrides model_path)')
    parser.add_argument('--backend', help='predictor backend (overrides backend)')
    parser.add_argument('--domain-id', type=int, default=0, help='DDS domain (ROS_DOMAIN_ID)')
    parser.add_argument('--loopback', action='store_true',
                        help='keep DDS traffic on 127.0.0.1 (else CYCLONEDDS_URI / cyclone defaults)')
    parser.add_argument('--duration', type=float, default=0.0, help='seconds to run (0: until ^C)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[%(levelname)s] [%(name)s] %(message)s')

    from .predictor_factory import predictor_of
    config = (load_params_file(args.params, args.node_name) if args.params
              else NodeConfig(node_name=args.node_name))
    overrides = {k: v for k, v in (('model_path', args.model), ('backend', args.backend)) if v}
    if overrides:
        config = NodeConfig.from_params({**config.to_params(), **overrides}, config.node_name)
    predictor = predictor_of(config)
    bus = DdsBus(args.domain_id, loopback_config() if args.loopback else None)
    node = DdsPerceptionNode(config, predictor, bus)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        node.start()
        logging.getLogger('perception.ros').info(
            f'{config.node_name} on DDS domain {args.domain_id}: sensors {config.sensors}')
        stop.wait(args.duration or None)
    finally:
        node.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(counters_summary(node.core.stats()))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
