"""What this machine's CPU can do, read once from the OS: model name, the ISA flags that decide which
kernels pay (AVX-512, VNNI, bf16, AMX), and whether bf16 is native.

A leaf module (standard library only) so that training (the bf16 default), the benchmarks and the
export all print and decide from the same facts. Machines of the same kind differ (an Intel Xeon with
AMX, an AMD EPYC with AVX-512 BF16 but no AMX): every benchmark prints ``cpu_report()``.
"""
from __future__ import annotations

import functools
import os
import platform
from pathlib import Path
from typing import Dict, FrozenSet

#: flags that matter for the kernels this package runs, in the order they are printed
REPORTED_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16',
                  'amx_bf16', 'amx_int8', 'amx_tile')

#: ``PERCEPTION_BF16``: ``1`` forces bf16 autocast on, ``0`` off; unset = native support decides
BF16_ENV = 'PERCEPTION_BF16'


@functools.lru_cache(maxsize=None)
def cpu_info() -> Dict[str, object]:
    """``{'model': str, 'flags': frozenset, 'cores': int}`` from /proc/cpuinfo (empty on other OSes)."""
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            key, _, value = line.partition(':')
            key = key.strip()
            if key == 'model name' and model in ('', platform.machine(), platform.processor()):
                model = value.strip()
            elif key in ('flags', 'Features') and not flags:
                flags = frozenset(value.split())
    except OSError:
        pass
    return {'model': model, 'flags': flags, 'cores': os.cpu_count() or 1}


def cpu_flags() -> FrozenSet[str]:
    return cpu_info()['flags']  # type: ignore[return-value]


def has_native_bf16() -> bool:
    """True where the CPU computes bf16 dot products in hardware (AVX-512 BF16 or AMX), so bf16
    autocast speeds convolutions and matmuls up instead of emulating them."""
    return bool({'avx512_bf16', 'amx_bf16'} & cpu_flags())


def has_int8_dot() -> bool:
    """True where the CPU has int8 dot-product instructions (VNNI or AMX-INT8)."""
    return bool({'avx512_vnni', 'avx_vnni', 'amx_int8'} & cpu_flags())


def bf16_default() -> bool:
    """Whether CPU training/inference should run in bf16 autocast by default: native bf16 support,
    unless ``PERCEPTION_BF16`` says otherwise (``1``/``0``)."""
    forced = os.environ.get(BF16_ENV, '').strip()
    if forced in ('0', '1'):
        return forced == '1'
    if forced:
        raise ValueError(f'{BF16_ENV}={forced!r}: expected 1 (bf16 on), 0 (off) or unset '
                         '(on where the CPU has native bf16)')
    return has_native_bf16()


def cpu_report() -> str:
    """One line for logs and benchmark headers: model, cores and the flags that matter."""
    info = cpu_info()
    flags = [f for f in REPORTED_FLAGS if f in info['flags']]  # type: ignore[operator]
    return (f"cpu {info['model']} | {info['cores']} cores | flags: {' '.join(flags) or 'none'} | "
            f"native bf16: {'yes' if has_native_bf16() else 'no'} | "
            f"int8 dot: {'yes' if has_int8_dot() else 'no'}")
