"""mmengine's three ``forward`` modes, dispatched in one place for the package's models.

``MultiTaskPerceptor`` and ``LibraryModel`` both take a batch of sensor tensors and answer 'loss'
(a dict of losses), 'predict' (data samples with predictions) or 'tensor' (raw network outputs);
only what each mode calls differs.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

from torch import Tensor

#: the modes mmengine's ``BaseModel.forward`` is called with
MODES = ('loss', 'predict', 'tensor')


def dispatch_mode(mode: str, args: Tuple[Tensor, ...], data_samples: Optional[List[Any]], *,
                  loss: Callable[[Tuple[Tensor, ...], Sequence[Any]], Any],
                  predict: Callable[[Tuple[Tensor, ...], Optional[List[Any]]], Any],
                  tensor: Callable[..., Any]) -> Any:
    """Call the function of ``mode``.

    Args:
        mode: one of ``MODES``.
        args: the checked network inputs ``(rgb, thermal, depth, modality_mask)``.
        data_samples: the batch's data samples (required for 'loss').
        loss: ``loss(args, data_samples)``.
        predict: ``predict(args, data_samples)``.
        tensor: ``tensor(*args)``.

    Returns:
        What the mode's function returns.

    Raises:
        ValueError: an unknown ``mode``, or 'loss' without ``data_samples``.
    """
    if mode == 'loss':
        if data_samples is None:
            raise ValueError("mode='loss' needs data_samples carrying the targets")
        return loss(args, data_samples)
    if mode == 'predict':
        return predict(args, data_samples)
    if mode == 'tensor':
        return tensor(*args)
    raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
