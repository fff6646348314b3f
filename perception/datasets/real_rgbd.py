"""RGB-D sources whose depth encoding is stated per dataset, never guessed.

* :class:`FileListDataset`: an explicit list of samples, each file with its encoding -- the way to
  read single frames in any of the encodings (the config says which).
* :class:`RGBDFolderDataset`: ``<rgb_dir>/<id>.*`` + ``<depth_dir>/<id>.*`` in one depth encoding.
* Named sources with their encodings written down: Redwood (Open3D test data), NYU Depth v2 demo
  frame, ESANet sample, Open3D's TUM / NYU / SUN examples.
"""
from __future__ import annotations

from typing import List, Mapping, Optional, Sequence

from perception.contract import SENSORS, SensorError
from perception.registry import DATASETS

from .base import MultiSensorDataset, index_folder, sample_info, sort_ids, source
from .loading import TARGET_MODALITIES

_FILE_KEYS = SENSORS + tuple(TARGET_MODALITIES)


@DATASETS.register_module()
class FileListDataset(MultiSensorDataset):
    """Samples listed one by one, e.g.::

        dict(type='FileListDataset', data_root='data/frames', samples=[
            dict(img_id='tum', rgb=dict(path='TUM_color.png', encoding='rgb8'),
                 depth=dict(path='TUM_depth.png', encoding='uint16_tum5000')),
        ])

    Keys per sample: ``img_id``, any of ``rgb``/``thermal``/``depth``/``gt_sem_seg``/``gt_depth``
    (``dict(path, encoding, **params)``, paths relative to ``data_root``), optional ``extra``.
    """

    DEFAULT_SAMPLES: Sequence[Mapping] = ()

    def __init__(self, data_root: str, samples: Optional[Sequence[Mapping]] = None, **kwargs):
        self.samples = [dict(s) for s in (self.DEFAULT_SAMPLES if samples is None else samples)]
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = []
        for i, entry in enumerate(self.samples):
            unknown = set(entry) - set(_FILE_KEYS) - {'img_id', 'extra'}
            if unknown or 'img_id' not in entry:
                raise SensorError('dataset', f'samples[{i}]',
                                  f'img_id and any of {_FILE_KEYS}, extra', sorted(entry))
            files = {}
            for key in _FILE_KEYS:
                spec = entry.get(key)
                if spec is None:
                    continue
                if not isinstance(spec, Mapping) or {'path', 'encoding'} - set(spec):
                    raise SensorError(key, f'samples[{i}].{key}', 'dict(path=..., encoding=...)',
                                      spec)
                params = {k: v for k, v in spec.items() if k not in ('path', 'encoding')}
                files[key] = source(self.root / spec['path'], spec['encoding'], **params)
            data_list.append(sample_info(
                entry['img_id'], sensors={k: v for k, v in files.items() if k in SENSORS},
                targets={k: v for k, v in files.items() if k in TARGET_MODALITIES},
                extra=entry.get('extra')))
        return data_list


@DATASETS.register_module()
class RGBDFolderDataset(MultiSensorDataset):
    """Colour and depth folders paired by file stem; ``depth_encoding`` is required."""

    def __init__(self, data_root: str, depth_encoding: str, rgb_dir: str = 'rgb',
                 depth_dir: str = 'depth', rgb_encoding: str = 'rgb8', **kwargs):
        self.rgb_dir, self.depth_dir = rgb_dir, depth_dir
        self.rgb_encoding, self.depth_encoding = rgb_encoding, depth_encoding
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        rgb = index_folder(self.root / self.rgb_dir, 'rgb')
        depth = index_folder(self.root / self.depth_dir, 'depth')
        return [sample_info(
            img_id,
            sensors=dict(rgb=source(rgb[img_id], self.rgb_encoding) if img_id in rgb else None,
                         depth=source(depth[img_id], self.depth_encoding)
                         if img_id in depth else None))
            for img_id in sort_ids(set(rgb) | set(depth))]


@DATASETS.register_module()
class RedwoodRGBDDataset(RGBDFolderDataset):
    """Redwood frames (Open3D ``TestData/RGBD``): ``color/*.jpg``, ``depth/*.png`` in mm."""

    def __init__(self, data_root: str, rgb_dir: str = 'color', depth_dir: str = 'depth',
                 depth_encoding: str = 'uint16_mm', **kwargs):
        super().__init__(data_root=data_root, depth_encoding=depth_encoding, rgb_dir=rgb_dir,
                         depth_dir=depth_dir, **kwargs)


@DATASETS.register_module()
class NYUDepthV2DemoDataset(FileListDataset):
    """The NYU Depth v2 frame of rcnn-depth's ``demo-data``: raw depth (holes) is the sensor
    input, the filled depth the target; both uint16 mm."""

    DEFAULT_SAMPLES = (dict(img_id='nyu_demo', rgb=dict(path='images.png', encoding='rgb8'),
                            depth=dict(path='rawdepth.png', encoding='uint16_mm'),
                            gt_depth=dict(path='depth.png', encoding='uint16_mm')), )


@DATASETS.register_module()
class ESANetSampleDataset(FileListDataset):
    """ESANet's ``samples/`` Kinect v2 frame; depth in 1/10 mm (ESANet README: its NYUv2 model,
    trained on mm, needs ``--depth_scale 0.1`` for this file)."""

    DEFAULT_SAMPLES = (dict(img_id='esanet_sample',
                            rgb=dict(path='sample_rgb.png', encoding='rgb8'),
                            depth=dict(path='sample_depth.png', encoding='uint16_tenth_mm')), )


@DATASETS.register_module()
class Open3DRGBDFormatsDataset(FileListDataset):
    """Open3D's ``TestData/RGBD/other_formats``: one frame each of TUM, NYU (raw Kinect .pgm) and
    SUN (bit-shifted), in their native depth encodings (Open3D's CreateFrom*Format readers)."""

    DEFAULT_SAMPLES = (
        dict(img_id='TUM', rgb=dict(path='TUM_color.png', encoding='rgb8'),
             depth=dict(path='TUM_depth.png', encoding='uint16_tum5000')),
        dict(img_id='NYU', rgb=dict(path='NYU_color.ppm', encoding='rgb8'),
             depth=dict(path='NYU_depth.pgm', encoding='nyu_kinect_disparity')),
        dict(img_id='SUN', rgb=dict(path='SUN_color.jpg', encoding='rgb8'),
             depth=dict(path='SUN_depth.png', encoding='uint16_sun_bitshift')),
    )
