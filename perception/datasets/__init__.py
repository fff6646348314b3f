"""Datasets and sensor loading: named encodings, the ``LoadMultiSensorSample`` transform, the
generic folder layout (reader and writer) and the real sources (docs/data.md)."""
import importlib.util

from .base import (DET_LABELLED, MultiSensorDataset, box_annotation,  # noqa: F401
                   default_palette, index_folder, resolve_det_class_map, sample_info, source)
from ..sensors.encodings import (ENCODINGS, Encoding, decode_file, get_encoding,  # noqa: F401
                        register_encoding, writable_encodings)
from .generic import GenericMultiSensorDataset  # noqa: F401
from .layout import LayoutSpec  # noqa: F401
from .loading import LoadMultiSensorSample, decode_sample  # noqa: F401
from .real_catalog import REAL_SOURCES, build_real_dataset, real_config  # noqa: F401
from .real_rgbd import (ESANetSampleDataset, FileListDataset, NYUDepthV2DemoDataset,  # noqa: F401
                        Open3DRGBDFormatsDataset, RedwoodRGBDDataset, RGBDFolderDataset)
from .rgbdd import RGBDDDataset  # noqa: F401
from .box_files import (BOX_FORMATS, BOX_TOLERANCE_PX, load_box_folder,  # noqa: F401
                        read_voc_boxes, read_yolo_boxes)
from .real_thermal import (LLVIPDataset, MFNetDataset, MSRSDataset, MSRSDetDataset,  # noqa: F401
                           RoadSceneDataset, VisibleInfraredDataset)
from .sunrgbd import SUNRGBDDataset  # noqa: F401
from .writer import GenericLayoutWriter, quantize_sample, write_generic_sample  # noqa: F401

# The synthetic scene generator is a sibling package developed separately: register its datasets
# when it is there, without making this package depend on it.
if importlib.util.find_spec('perception.datasets.synthetic') is not None:
    from . import synthetic  # noqa: F401
