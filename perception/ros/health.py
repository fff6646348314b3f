"""Stale-sensor policy and its report on ``/diagnostics``.

A configured sensor is *alive* while its last message arrived less than ``timeout_s`` ago (receive
time on the node's clock, not the header stamp: a driver with a wrong clock must not look dead). At
start every sensor gets one timeout of grace, so the first frames wait for all sensors instead of going
out degraded because one camera's first message was a few ms late. A stale sensor is left out of
synchronisation (the network then sees it as absent through the modality mask); its next message
makes it alive again. After a total outage (no sensor alive) the first message back restarts the
start-up grace for all sensors.

Diagnostics (diagnostic_msgs/DiagnosticArray): one status per sensor (OK, or STALE with the age of the
last message) and one summary: OK with all sensors, WARN "DEGRADED: ..." with some, ERROR with none;
the caller may add statuses of its own (the core's registration: built, or which CameraInfo it awaits).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .typestore import DIAGNOSTIC_ARRAY, msg_class

OK, WARN, ERROR, STALE = 0, 1, 2, 3   # diagnostic_msgs/DiagnosticStatus levels


@dataclass(frozen=True)
class SensorState:
    alive: bool
    age_s: Optional[float]     # since the last message; None if never received
    received: int


class SensorHealth:
    def __init__(self, sensors: Sequence[str], timeout_s: float, start_s: float):
        if timeout_s <= 0:
            raise ValueError(f'stale timeout must be > 0 s, got {timeout_s}')
        self.sensors: Tuple[str, ...] = tuple(sensors)
        self.timeout_s = float(timeout_s)
        self._last_seen: Dict[str, Optional[float]] = {s: None for s in self.sensors}
        self._deadline: Dict[str, float] = {s: start_s + self.timeout_s for s in self.sensors}
        self._alive: Dict[str, bool] = {s: True for s in self.sensors}   # grace period at start
        self._received: Dict[str, int] = {s: 0 for s in self.sensors}

    def seen(self, sensor: str, now_s: float) -> bool:
        """Record a message; True when this brings a stale sensor back."""
        self._last_seen[sensor] = now_s
        self._deadline[sensor] = now_s + self.timeout_s
        self._received[sensor] += 1
        came_back = not self._alive[sensor]
        if came_back and not any(self._alive.values()):
            # End of a total outage (or of a wait for the first sensor): like at start, give every
            # sensor one timeout to come back, or the first camera to resume would go out alone.
            for s in self.sensors:
                self._alive[s] = True
                self._deadline[s] = max(self._deadline[s], now_s + self.timeout_s)
        self._alive[sensor] = True
        return came_back

    def update(self, now_s: float) -> List[str]:
        """Mark sensors past their deadline as stale; return the ones that just went stale."""
        newly = [s for s in self.sensors if self._alive[s] and now_s > self._deadline[s]]
        for s in newly:
            self._alive[s] = False
        return newly

    def alive(self) -> Tuple[str, ...]:
        return tuple(s for s in self.sensors if self._alive[s])

    def states(self, now_s: float) -> Dict[str, SensorState]:
        return {s: SensorState(self._alive[s],
                               None if self._last_seen[s] is None else now_s - self._last_seen[s],
                               self._received[s]) for s in self.sensors}


def summary_level(states: Mapping[str, SensorState]) -> Tuple[int, str]:
    alive = [s for s, st in states.items() if st.alive]
    stale = [s for s, st in states.items() if not st.alive]
    if not stale:
        return OK, f'OK: all sensors ({", ".join(alive)}) alive'
    if alive:
        return WARN, f'DEGRADED: {", ".join(stale)} stale; running on {", ".join(alive)}'
    return ERROR, f'NO INPUT: every sensor stale ({", ".join(stale)})'


def diagnostics_message(node_name: str, states: Mapping[str, SensorState], header: Any,
                        counters: Mapping[str, Any], topics: Mapping[str, str],
                        extra: Sequence[Tuple[int, str, str]] = ()) -> Any:
    """The DiagnosticArray; ``extra``: further (level, name, message) statuses, named
    ``'<node>: <name>'``."""
    status_cls = msg_class('diagnostic_msgs/msg/DiagnosticStatus')
    kv = msg_class('diagnostic_msgs/msg/KeyValue')
    statuses = []
    level, message = summary_level(states)
    statuses.append(status_cls(
        level=level, name=f'{node_name}: inputs', message=message, hardware_id=node_name,
        values=[kv(key=k, value=str(v)) for k, v in counters.items()]))
    for sensor, st in states.items():
        age = 'never received' if st.age_s is None else f'last message {st.age_s:.3f} s ago'
        statuses.append(status_cls(
            level=OK if st.alive else STALE, name=f'{node_name}: sensor {sensor}',
            message=('OK' if st.alive else 'STALE') + f' ({age})',
            hardware_id=topics.get(sensor, sensor),
            values=[kv(key='topic', value=topics.get(sensor, '')),
                    kv(key='alive', value=str(st.alive)),
                    kv(key='age_s', value='' if st.age_s is None else f'{st.age_s:.3f}'),
                    kv(key='received', value=str(st.received))]))
    for lvl, name, text in extra:
        statuses.append(status_cls(level=lvl, name=f'{node_name}: {name}', message=text,
                                   hardware_id=node_name, values=[]))
    return msg_class(DIAGNOSTIC_ARRAY)(header=header, status=statuses)
