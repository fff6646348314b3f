"""The node core driven by a fake clock, for tests of ``PerceptionCore`` with or without rclpy: the
ROS-free tests (test_ros_core.py) and the same scenarios with rclpy's real logger (real/)."""
from ros_testkit import ToyPredictor, synthetic_frame

from perception.ros import typestore as ts
from perception.ros.config import NodeConfig
from perception.ros.core import PerceptionCore
from perception.ros.image_codec import encode_sensor

ENC = {'rgb': 'bgr8', 'thermal': 'mono16', 'depth': '16UC1'}
PERIOD_S = 1 / 30


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class Harness:
    def __init__(self, predictor=None, logger=None, **cfg):
        self.clock = Clock()
        self.out = []
        self.predictor = predictor or ToyPredictor()
        self.config = NodeConfig(**{'stale_timeout': 0.3, 'slop': 0.01, **cfg})
        self.core = PerceptionCore(self.config, self.predictor,
                                   lambda name, msg: self.out.append((name, msg)), clock=self.clock,
                                   logger=logger)

    def images(self, index, sensors=('rgb', 'thermal', 'depth')):
        rgb, thermal, depth, _ = synthetic_frame(index)
        value = {'rgb': rgb, 'thermal': thermal, 'depth': depth}
        stamp = 5_000_000_000 + int(index * PERIOD_S * 1e9)
        return {s: encode_sensor(value[s], s, ENC[s], ts.header(stamp + k * 1_000_000, f'{s}_frame'))
                for k, s in enumerate(sensors)}

    def frame(self, index, sensors=('rgb', 'thermal', 'depth'), process=True):
        """Deliver one frame's messages (advancing the clock one period) and process its sets."""
        self.clock.t += PERIOD_S
        sets = []
        for sensor, msg in self.images(index, sensors).items():
            sets += self.core.on_image(sensor, msg)
        sets += self.core.tick()
        if process:
            for s in sets:
                self.core.process(s)
        return sets

    def outputs(self, name):
        return [m for n, m in self.out if n == name]


class FailsFirst(ToyPredictor):
    """Raises on its first call (a GPU out of memory once), then works."""

    def __call__(self, **kw):
        result = super().__call__(**kw)
        if len(self.calls) == 1:
            raise RuntimeError('CUDA error: out of memory')
        return result


def log_an_error_and_a_warning(h: Harness, first: str) -> None:
    """A predictor error (logged as an error) and a malformed image (a warning), ``first`` first,
    then one good set: what killed the rclpy node when both were logged from one call site."""
    malformed = h.images(1)['thermal']
    malformed.encoding = 'yuv422'
    if first == 'malformed':
        assert h.core.on_image('thermal', malformed) == []
        h.frame(2)                              # the predictor raises on this set
    else:
        h.frame(0)
        assert h.core.on_image('thermal', malformed) == []
    assert len(h.frame(3)) == 1
    stats = h.core.stats()
    assert (stats['processed'], stats['predictor_errors'], stats['malformed.thermal']) == (1, 1, 1)
