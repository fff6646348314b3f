"""The end of a distributed run: every rank closes its process group before the interpreter exits.

mmengine's launcher opens the group (``init_process_group``) and never closes it. On CPU, gloo keeps
worker threads per group; a process that exits with the group still open can destroy those threads
while they are joinable, and the C++ runtime aborts the rank (``terminate called without an active
exception``, SIGABRT) after a run that succeeded. torchrun then reports the job as failed.
"""
from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def closing_process_group() -> Iterator[None]:
    """Run the body, then close the default process group if one is open: after a barrier when the
    body succeeded (so no rank tears down while another still talks to it), at once when it raised
    (the other ranks may be gone; a barrier would hang)."""
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            if succeeded:
                dist.barrier()
            dist.destroy_process_group()
