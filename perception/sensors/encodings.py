"""Named sensor encodings: how the pixels of one file become the decoded arrays of docs/contract.md.

Every dataset states the encoding of every file it lists; nothing here inspects values to guess a
scale. Each :class:`Encoding` knows how to read its file, check the stored bit depth and channel
count, convert to the decoded representation, and (where the mapping is invertible) convert back for
writing. The table with the source of each convention is in docs/data.md.

Decoded representations (perception.contract):
  rgb      uint8 (H, W, 3) RGB order
  thermal  float32 (H, W) in [0, 1]
  depth    float32 (H, W) metres, 0 = invalid
  label    uint8 (H, W) class ids, 255 = ignore
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

import cv2
import numpy as np

from perception.contract import SENSORS, SensorError

PathLike = Union[str, Path]
MODALITIES = SENSORS + ('label', )
#: File suffixes the image reader accepts (OpenCV codecs); ``.npy`` only for float depth.
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.ppm', '.pgm', '.bmp', '.tif', '.tiff')


@dataclass(frozen=True)
class Site:
    """Where a value comes from, so that every error names sensor and file."""
    sensor: str
    path: Optional[str]

    def error(self, field: str, expected: str, got=None) -> SensorError:
        return SensorError(self.sensor, field, expected, got, self.path)


@dataclass(frozen=True)
class Encoding:
    """One storage convention. ``from_raw``/``to_raw`` work on the array as read/written by OpenCV
    (colour in BGR order), so ``from_raw(to_raw(x))`` is the exact storage quantisation of ``x``."""
    name: str
    modality: str
    storage: str                   # what the file must hold, e.g. '16-bit, 1 channel'
    meaning: str                   # how a stored value maps to the decoded value
    source: str                    # where the convention is defined
    from_raw: Callable[..., np.ndarray]
    to_raw: Optional[Callable[[np.ndarray, Site], np.ndarray]] = None
    reader: Optional[Callable[[Site], np.ndarray]] = None   # default: read_image
    suffix: str = '.png'           # suffix the writer uses
    needs_shape: bool = False      # decoding needs the (H, W) of the image plane (point clouds)
    params: Tuple[str, ...] = ()   # keyword parameters ``from_raw`` takes (e.g. a thermal scaling)

    def decode(self, path: PathLike, sensor: str, shape: Optional[Tuple[int, int]] = None,
               **params) -> np.ndarray:
        site = Site(sensor, str(path))
        if not Path(path).is_file():
            raise site.error('file', 'an existing file', 'no such file')
        raw = (self.reader or read_image)(site)
        if self.needs_shape:
            if shape is None:
                raise site.error('shape', f'the image-plane size from another sensor '
                                          f'(encoding {self.name!r} projects onto it)', 'none')
            return self.from_raw(raw, site, shape=shape, **params)
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            expected = (f'parameters {list(self.params)}' if self.params else 'no parameters')
            raise site.error('encoding', f'{expected} for encoding {self.name!r}', unknown)
        return self.from_raw(raw, site, **params)

    def encode(self, value: np.ndarray, sensor: str, path: PathLike = '<memory>') -> np.ndarray:
        if self.to_raw is None:
            raise SensorError(sensor, 'encoding', 'an encoding that can be written '
                              f'(one of {writable_encodings()})', self.name, str(path))
        return self.to_raw(np.asarray(value), Site(sensor, str(path)))

    def quantize(self, value: np.ndarray, sensor: str = 'memory') -> np.ndarray:
        """The value exactly as it reads back after being stored in this encoding."""
        site = Site(sensor, '<memory>')
        return self.from_raw(self.encode(value, sensor), site)


ENCODINGS: Dict[str, Encoding] = {}


def register_encoding(encoding: Encoding) -> Encoding:
    """Add an encoding (e.g. from a dataset module). Names are unique: a clash is a bug."""
    if encoding.modality not in MODALITIES:
        raise ValueError(f'encoding {encoding.name!r}: modality must be one of {MODALITIES}')
    if encoding.name in ENCODINGS and ENCODINGS[encoding.name] is not encoding:
        raise ValueError(f'encoding {encoding.name!r} is already registered')
    ENCODINGS[encoding.name] = encoding
    return encoding


def get_encoding(name: str, sensor: str, modality: Optional[str] = None,
                 path: Optional[PathLike] = None) -> Encoding:
    """Look an encoding up by name; unknown names and wrong modalities raise SensorError."""
    enc = ENCODINGS.get(name)
    if enc is None:
        raise SensorError(sensor, 'encoding', f'one of {sorted(ENCODINGS)}', repr(name),
                          None if path is None else str(path))
    if modality is not None and enc.modality != modality:
        names = sorted(n for n, e in ENCODINGS.items() if e.modality == modality)
        raise SensorError(sensor, 'encoding', f'a {modality} encoding ({names})',
                          f'{name!r} ({enc.modality})', None if path is None else str(path))
    return enc


def decode_file(path: PathLike, encoding: str, sensor: str, modality: Optional[str] = None,
                **kwargs) -> np.ndarray:
    """Read one file in the named encoding (``modality`` defaults to the sensor's own)."""
    if modality is None and sensor in SENSORS:
        modality = sensor
    return get_encoding(encoding, sensor, modality, path).decode(path, sensor, **kwargs)


def writable_encodings(modality: Optional[str] = None) -> Tuple[str, ...]:
    return tuple(sorted(n for n, e in ENCODINGS.items()
                        if e.to_raw is not None and modality in (None, e.modality)))


# --- reading and checking ------------------------------------------------------------------------
def read_image(site: Site) -> np.ndarray:
    """Read a file as stored (bit depth and channels kept; colour comes back BGR(A))."""
    img = cv2.imread(site.path, cv2.IMREAD_UNCHANGED)
    if img is None:
        empty = Path(site.path).stat().st_size == 0
        raise site.error('file', f'a readable image ({", ".join(IMAGE_SUFFIXES)})',
                         'an empty file (0 bytes)' if empty else 'unreadable or corrupt file')
    return img


def _read_float_map(site: Site) -> np.ndarray:
    suffix = Path(site.path).suffix.lower()
    if suffix == '.npy':
        try:
            return np.load(site.path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise site.error('file', 'a readable .npy array', f'{type(exc).__name__}: {exc}')
    if suffix in ('.tif', '.tiff'):
        return read_image(site)
    raise site.error('file', 'a .npy file or a 32-bit float TIFF', f'suffix {suffix!r}')


def _describe(raw: np.ndarray) -> str:
    channels = 1 if raw.ndim == 2 else (raw.shape[2] if raw.ndim == 3 else f'ndim={raw.ndim}')
    return f'{raw.dtype} with {channels} channel(s), shape {raw.shape}'


#: a file's dtype -> how the encodings' ``storage`` of that bit depth begins
_STORAGE_PREFIX = {np.dtype(np.uint8): '8-bit', np.dtype(np.uint16): '16-bit',
                   np.dtype(np.float32): '32-bit float'}


def _encodings_storing(raw: np.ndarray, site: Site) -> str:
    """'; encodings of this sensor for such a file: ...' (the fix for a wrong encoding), or ''."""
    prefix = _STORAGE_PREFIX.get(raw.dtype)
    names = [e.name for e in ENCODINGS.values()
             if prefix and e.modality == site.sensor and e.storage.startswith(prefix)]
    return (f'; encodings of {site.sensor} for such a file: {", ".join(names)} (docs/data.md; '
            f'`perception infer --{site.sensor}-encoding NAME`)') if names else ''


def check_stored(raw: np.ndarray, site: Site, dtype, channels: Tuple[int, ...],
                 storage: str) -> None:
    """The stored bit depth and channel count must be the encoding's (else SensorError)."""
    ch = 1 if raw.ndim == 2 else (raw.shape[2] if raw.ndim == 3 else -1)
    if raw.dtype != dtype:
        raise site.error('bit depth', storage, _describe(raw) + _encodings_storing(raw, site))
    if ch not in channels:
        raise site.error('channels', storage, _describe(raw))


def refuse_pixels(site: Site, bad: np.ndarray, expected: str, what: str) -> None:
    """SensorError (field ``value``) naming how many pixels are ``bad`` -- values a file of this
    encoding cannot hold -- unless there are none; ``what`` says what they are."""
    count = int(np.count_nonzero(bad))
    if count:
        raise site.error('value', expected, f'{count} of {bad.size} pixels {what}')


def _check_unit_range(value: np.ndarray, site: Site) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.ndim != 2:
        raise site.error('shape', '(H, W) thermal array', value.shape)
    if not np.all(np.isfinite(value)) or value.min(initial=0) < 0 or value.max(initial=0) > 1:
        raise site.error('value', 'finite thermal values in [0, 1]',
                         f'range [{np.nanmin(value)}, {np.nanmax(value)}]')
    return value


def _check_metres(value: np.ndarray, site: Site, max_m: float) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.ndim != 2:
        raise site.error('shape', '(H, W) depth array', value.shape)
    if not np.all(np.isfinite(value)) or value.min(initial=0) < 0 or value.max(initial=0) > max_m:
        raise site.error('value', f'finite depth in [0, {max_m}] m (0 = invalid)',
                         f'range [{np.nanmin(value)}, {np.nanmax(value)}]')
    return value


# --- colour --------------------------------------------------------------------------------------
_RGB8 = '8-bit, 3 channels (colour) or 1 channel (grey)'


def _rgb8_from_raw(raw, site):
    check_stored(raw, site, np.uint8, (1, 3), _RGB8)
    if raw.ndim == 2:   # a monochrome visible camera: R = G = B, still a 3-channel network input
        return np.ascontiguousarray(np.repeat(raw[:, :, None], 3, axis=2))
    return np.ascontiguousarray(raw[:, :, ::-1])


def _rgb8_to_raw(value, site):
    if value.dtype != np.uint8 or value.ndim != 3 or value.shape[2] != 3:
        raise site.error('dtype', 'uint8 (H, W, 3) RGB', _describe(value))
    return np.ascontiguousarray(value[:, :, ::-1])


def _mfnet_rgb_from_raw(raw, site):
    check_stored(raw, site, np.uint8, (4, ), '8-bit, 4 channels (MFNet: R, G, B, thermal)')
    return np.ascontiguousarray(raw[:, :, 2::-1])   # OpenCV gives B, G, R, thermal


# --- thermal -------------------------------------------------------------------------------------
#: A 3-channel thermal file is read as grey when the 99th percentile of its per-pixel channel
#: spread (max - min over B, G, R) is at most this share of full scale (8 of 255 grey levels).
#: Grey written as colour comes back from JPEG with spreads of 0-2 levels (tests/sensors measure it);
#: a palette (ironbow, rainbow, jet) spreads most pixels by tens to hundreds of levels.
GREY_TOLERANCE = 8 / 255
GREY_PERCENTILE = 99.0
_EXPORT_RAW = ('a colour palette cannot be inverted to temperature: export the raw thermal instead '
               '(the camera SDK\'s radiometric 16-bit TIFF/PNG -> encoding u16_radiometric, or an 8-bit '
               'grey "white hot" image -> u8_unit)')


def grey_channel(raw: np.ndarray, site: Site, storage: str) -> np.ndarray:
    """One channel of a thermal image stored as 1 channel or as 3 (nearly) equal channels.

    3 channels are averaged (JPEG noise cancels); channels that disagree beyond
    ``GREY_TOLERANCE`` mean a colour-mapped image, refused with how to export raw thermal.
    """
    if raw.ndim == 2:
        return raw.astype(np.float32)
    ch = raw.shape[2] if raw.ndim == 3 else -1
    if ch != 3:
        hint = ' (MFNet 4-channel PNG: encoding mfnet_rgba)' if ch == 4 else ''
        raise site.error('channels', storage + hint, _describe(raw))
    spread = raw.max(axis=2).astype(np.float32) - raw.min(axis=2)
    full = float(np.iinfo(raw.dtype).max) if raw.dtype.kind == 'u' else 1.0
    p = float(np.percentile(spread, GREY_PERCENTILE)) / full
    if p > GREY_TOLERANCE:
        raise site.error(
            'channels', f'{storage}; 3 channels only if they are equal (grey), within '
            f'{GREY_TOLERANCE * 255:.0f}/255 for the {GREY_PERCENTILE:g}th percentile of the '
            f'per-pixel channel spread', f'a colour-mapped image (spread {p * 255:.0f}/255): '
            f'{_EXPORT_RAW}')
    return raw.astype(np.float32).mean(axis=2, dtype=np.float32)


def _unit_from_raw(dtype, scale, storage):
    def from_raw(raw, site):
        check_stored(raw, site, dtype, (1, 2, 3, 4), storage)   # grey_channel checks the count
        return grey_channel(raw, site, storage) / np.float32(scale)
    return from_raw


def _unit_to_raw(dtype, scale):
    def to_raw(value, site):
        return np.round(_check_unit_range(value, site) * scale).astype(dtype)
    return to_raw


def _mfnet_thermal_from_raw(raw, site):
    check_stored(raw, site, np.uint8, (4, ), '8-bit, 4 channels (MFNet: R, G, B, thermal)')
    return raw[:, :, 3].astype(np.float32) / np.float32(255)


# --- depth ---------------------------------------------------------------------------------------
_U16 = '16-bit, 1 channel'
_GREY8 = '8-bit, 1 channel (or 3 equal channels)'
_GREY16 = '16-bit, 1 channel (or 3 equal channels)'


def _scaled_depth(scale: float, invalid_code: Optional[int] = None):
    """uint16 ``v`` -> ``v / scale`` metres; 0 (and ``invalid_code``) mean no measurement."""
    def from_raw(raw, site):
        check_stored(raw, site, np.uint16, (1, ), _U16)
        depth = raw.astype(np.float32) / np.float32(scale)
        if invalid_code is not None:
            depth[raw == invalid_code] = 0
        return depth

    def to_raw(value, site):
        top = (invalid_code if invalid_code is not None else 65536) - 1
        metres = _check_metres(value, site, top / scale)
        return np.round(metres * scale).astype(np.uint16)
    return from_raw, to_raw


#: SUN RGB-D's sensors (Kinect v1/v2, Xtion, RealSense F200) measure under 10 m and its toolbox clamps
#: at 8 m; a word decoding to this many mm or more (low 3 bits 2-7) is no SUN depth. A plain mm PNG
#: given as SUN puts 3 of 4 pixels there.
SUN_MAX_MM = 1 << 14


def _sun_from_raw(raw, site):
    check_stored(raw, site, np.uint16, (1, ), _U16)
    v = raw.astype(np.uint32)
    mm = ((v >> 3) | (v << 13)) & 0xFFFF   # rotate right by 3 bits (SUN RGB-D toolbox)
    over = mm >= SUN_MAX_MM
    if over.any():
        refuse_pixels(site, over, f'SUN RGB-D bit-shifted depth: stored words whose low 3 bits are 0 '
                      f'or 1 (decoded < {SUN_MAX_MM / 1000:g} m; its sensors measure < 10 m)',
                      f'decode to >= {SUN_MAX_MM / 1000:g} m (maximum {mm.max() / 1000:.4g} m): not '
                      'bit-shifted (a plain millimetre PNG: uint16_mm?)')
    return mm.astype(np.float32) / np.float32(1000)


def _sun_to_raw(value, site):
    mm = np.round(_check_metres(value, site, (SUN_MAX_MM - 1) / 1000) * 1000).astype(np.uint32)
    return (((mm << 3) | (mm >> 13)) & 0xFFFF).astype(np.uint16)


#: NYU Depth v2 raw Kinect (v1) frames: disparity -> metres, NYU toolbox ``depth_rel2depth_abs.m``.
NYU_DISPARITY_PARAMS = (351.3, 1092.5)
NYU_DISPARITY_INVALID = 2047   # 11-bit Kinect code for "no reading"
NYU_MAX_DEPTH_M = 10.0         # the toolbox's maxDepth: farther values are not measurements


def _nyu_disparity_from_raw(raw, site):
    check_stored(raw, site, np.uint16, (1, ), '16-bit, 1 channel (NYU raw .pgm)')
    # The NYU capture wrote little-endian words into a PGM, whose standard says big-endian; OpenCV
    # reads it by the standard, so swap back (the toolbox's swapbytes; Open3D does the same).
    swapped = raw.byteswap()
    over = swapped > NYU_DISPARITY_INVALID
    if over.any():
        refuse_pixels(site, over, f'Kinect v1 11-bit disparities after the byte swap (<= '
                      f'{NYU_DISPARITY_INVALID}, {NYU_DISPARITY_INVALID} = no reading)',
                      f'> {NYU_DISPARITY_INVALID} (maximum {int(swapped.max())}): not an NYU raw '
                      '.pgm as captured (already byte-swapped, or a depth PNG: uint16_mm?)')
    disparity = swapped.astype(np.float64)
    a, b = NYU_DISPARITY_PARAMS
    with np.errstate(divide='ignore'):
        depth = a / (b - disparity)
    bad = (disparity >= NYU_DISPARITY_INVALID) | ~np.isfinite(depth) | (depth <= 0) | \
        (depth > NYU_MAX_DEPTH_M)
    depth[bad] = 0
    return depth.astype(np.float32)


def float_depth(depth: np.ndarray, sensor: str = 'depth', path: Optional[str] = None
                ) -> np.ndarray:
    """Float depth in metres by REP 117: NaN (no reading), -inf (too close) and +inf (too far) are
    invalid -- 0 in the contract, never an error. A negative finite value is no depth at all (inverse
    depth, disparity, a sign error): SensorError naming how many pixels hold one."""
    depth = np.asarray(depth, dtype=np.float32)
    if depth.size and depth.min() >= 0 and depth.max() < np.inf:   # all finite and >= 0 (NaN
        return depth.copy()                                        # fails both tests)
    finite = np.isfinite(depth)
    negative = finite & (depth < 0)
    if negative.any():
        refuse_pixels(Site(sensor, path), negative, 'depth >= 0 m, or NaN/+-inf for no reading '
                      '(REP 117); negative values are no depth (inverse depth or disparity?)',
                      f'< 0 (minimum {depth[negative].min():.4g})')
    return np.where(finite, depth, np.float32(0))


def _float_from_raw(raw, site):
    if raw.dtype != np.float32 or raw.ndim != 2:
        raise site.error('bit depth', '32-bit float, 1 channel (metres)', _describe(raw))
    return float_depth(raw, site.sensor, site.path)


def _float_to_raw(value, site):
    return _check_metres(value, site, np.finfo(np.float32).max).astype(np.float32)


# --- labels --------------------------------------------------------------------------------------
def _label_from_raw(raw, site):
    check_stored(raw, site, np.uint8, (1, ), '8-bit, 1 channel (class ids, 255 = ignore)')
    return raw


def _label_to_raw(value, site):
    if value.dtype != np.uint8 or value.ndim != 2:
        raise site.error('dtype', 'uint8 (H, W) class ids', _describe(value))
    return value


_MM = _scaled_depth(1000)
_TUM = _scaled_depth(5000)
_TENTH_MM = _scaled_depth(10000, invalid_code=65535)

for _enc in (
    Encoding('rgb8', 'rgb', _RGB8 + ' PNG/JPG/PPM',
             'RGB order; a grey image is replicated to R = G = B', 'OpenCV/PNG/JPEG conventions',
             _rgb8_from_raw, _rgb8_to_raw),
    Encoding('mfnet_rgb', 'rgb', '8-bit, 4 channels PNG (R, G, B, thermal)',
             'channels 1-3 of MFNet\'s 4-channel PNG', 'MFNet (Ha et al., IROS 2017) image format',
             _mfnet_rgb_from_raw),
    Encoding('u8_unit', 'thermal', _GREY8, 'v / 255 (3 equal channels: their mean)',
             '8-bit normalised thermal (MSRS, RoadScene; LLVIP, M3FD, TNO store it as 3 channels)',
             _unit_from_raw(np.uint8, 255, _GREY8), _unit_to_raw(np.uint8, 255)),
    Encoding('u16_unit', 'thermal', _GREY16, 'v / 65535', '16-bit thermal already scaled to the '
             'full 16-bit range (the generic layout\'s default)',
             _unit_from_raw(np.uint16, 65535, _GREY16), _unit_to_raw(np.uint16, 65535)),
    Encoding('mfnet_rgba', 'thermal', '8-bit, 4 channels PNG (R, G, B, thermal)',
             'channel 4 / 255', 'MFNet image format', _mfnet_thermal_from_raw),
    Encoding('uint16_mm', 'depth', _U16, 'v / 1000 m; 0 = invalid',
             'NYU Depth v2 (filled/raw PNG), Redwood, Open3D CreateFromRedwoodFormat', *_MM),
    Encoding('uint16_tum5000', 'depth', _U16, 'v / 5000 m; 0 = invalid',
             'TUM RGB-D file formats (factor 5000), Open3D CreateFromTUMFormat', *_TUM),
    Encoding('uint16_sun_bitshift', 'depth', _U16,
             '(((v >> 3) | (v << 13)) & 0xFFFF) / 1000 m; 0 = invalid; >= 16.384 m = error',
             'SUN RGB-D toolbox read3dPoints.m, Open3D CreateFromSUNFormat', _sun_from_raw,
             _sun_to_raw),
    Encoding('uint16_tenth_mm', 'depth', _U16, 'v / 10000 m; 0 and 65535 (saturated) = invalid',
             'ESANet samples/ (README: NYUv2 model needs --depth_scale 0.1 to reach its mm)',
             *_TENTH_MM),
    Encoding('nyu_kinect_disparity', 'depth', '16-bit, 1 channel PGM, byte-swapped',
             'd = byteswap(v); 351.3 / (1092.5 - d) m; d = 2047, <= 0 or > 10 m = invalid; '
             'd > 2047 = error',
             'NYU toolbox depth_rel2depth_abs.m; Open3D RGBDImage::CreateFromNYUFormat',
             _nyu_disparity_from_raw),
    Encoding('float32_m', 'depth', '32-bit float, 1 channel (.npy or TIFF)',
             'metres; NaN, -inf, +inf -> 0 (invalid, REP 117); negative = error',
             'REP 117 (ROS float depth images)', _float_from_raw,
             _float_to_raw, reader=_read_float_map, suffix='.npy'),
    Encoding('label_u8', 'label', '8-bit, 1 channel PNG', 'class id; 255 = ignore',
             'mmseg label maps', _label_from_raw, _label_to_raw),
):
    register_encoding(_enc)
