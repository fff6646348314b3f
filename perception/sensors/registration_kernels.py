"""Compiled per-frame passes of the registration (numba), the same arithmetic as the numpy passes.

:class:`perception.sensors.registration.Projection` runs its per-frame work -- the float32
footprint pass, the z-buffer and, for the thermal lookup, the float64 centres, the maps and the
occlusion test -- either as vectorised numpy passes or, where numba is installed, as the loops
below: one pass over the pixels instead of some forty, then one that writes the z-buffer (a
footprint covers at most 3 x 3 target pixels). Every operation is the numpy code's, in
its order and precision (float32 where it is float32, float64 where it is float64, no fused
multiply-add: numba compiles without fast-math), so both give the same bits; the tests compare them
with each other and with the pre-optimisation code (tests/sensors/test_registration_parity.py).
The pixels the float32 pass cannot decide are returned to the caller, which runs the numpy exact
path on them as before.

The helpers take scalars only: an array handed to a helper costs a reference-count update (an
atomic operation) per call, which, once per pixel, made the loop slower than numpy's passes.

numba is optional (``pip install perception[fast]``): without it, or with
``PERCEPTION_REGISTRATION_KERNELS=numpy``, the numpy passes run. Importing this module compiles
nothing; the first call of each kernel does (cached on disk by numba when its cache folder is
writable; :meth:`Projection.prepare` makes that call).
"""
from __future__ import annotations

import numpy as np
from numba import njit

F32 = np.float32

#: Rows of the float32 pixel table (:func:`pixel_tables`): the footprint fit's coefficients (edge
#: e, power k at 3 e + k), the pass's tolerance and ranges, and the centre's tables.
THRESHOLD, FAST_LO, FAST_HI, SEEN_LO, SEEN_HI, M_X, M_Y, D_X, D_Y = range(12, 21)
TABLE_ROWS = 21


def pixel_tables(coef, threshold, fast_lo, fast_hi, seen_lo, seen_hi, m32, d32, rays):
    """The per-pixel tables of the compiled passes from a Projection's fit: float32 (21, n), one
    row per quantity (each a unit-stride stream, so the footprint loop compiles to SIMD), and the
    float64 rotated rays (3, n)."""
    n = threshold.size
    table = np.empty((TABLE_ROWS, n), np.float32)
    table[:12] = coef.reshape(12, n)
    for row, values in ((THRESHOLD, threshold), (FAST_LO, fast_lo), (FAST_HI, fast_hi),
                        (SEEN_LO, seen_lo), (SEEN_HI, seen_hi), (M_X, m32[0]), (M_Y, m32[1]),
                        (D_X, d32[0]), (D_Y, d32[1])):
        table[row] = values
    return table, np.ascontiguousarray(rays)


#: njit options of every kernel: no Python exceptions for a division by zero (numpy's inf/NaN, as
#: the numpy passes), released GIL, compiled code cached on disk
JIT = dict(cache=True, nogil=True, error_model='numpy')
#: ... and of the per-pixel helpers (scalars only): inlined where they are called
HELPER = dict(JIT, inline='always')


@njit(**HELPER)
def _edge(s, c0, c1, c2, centre):
    """A footprint edge from its fit in s (float32, as ``_fast_edges``)."""
    e = c2 * s
    e += c1
    e *= s
    e += c0
    e += centre
    return e


@njit(**HELPER)
def _footprint(e0, e1, e2, e3, u, v, s, zc, thr, fast_lo, fast_hi, empty, check_z, co_x, co_y,
               h, w, pad, wp):
    """One source pixel's footprint from its float32 edges and centre (``_cells`` of the numpy
    code): (first cell in the padded z-buffer, shape dx + 8 dy, decided). ``decided``: the
    float32 pass places it (else the exact path may have to). Branch-free; an undecided footprint
    gets a harmless first cell."""
    i0, i1, i2, i3 = np.rint(e0), np.rint(e1), np.rint(e2), np.rint(e3)
    ok = (abs(e0 - i0) <= thr) & (abs(e1 - i1) <= thr) & (abs(e2 - i2) <= thr) & \
        (abs(e3 - i3) <= thr)
    c0 = u + co_x
    c1 = v + co_y
    r0, r1 = np.rint(c0), np.rint(c1)
    if empty:
        ok = ok & (abs(c0 - r0) <= thr) & (abs(c1 - r1) <= thr)
    ok = ok & (s >= fast_lo) & (s <= fast_hi)
    if check_z:
        ok = ok & (zc > 0)
    zero = F32(0)
    a = int(i0 if ok else zero)           # (an undecided pixel's edges may be NaN)
    dx = int(i1 - i0 if ok else zero)
    c = int(i2 if ok else zero)
    dy = int(i3 - i2 if ok else zero)
    if empty:                             # no pixel centre in the footprint: the nearest
        a = int(r0) if (dx < 0) & ok else a
        c = int(r1) if (dy < 0) & ok else c
        dx = max(dx, 0)
        dy = max(dy, 0)
    a = min(max(a, -pad), w)              # as the numpy pass: clipped into the padding
    c = min(max(c, -pad), h)
    return (c + pad) * wp + a + pad, dx + 8 * dy, ok


@njit(**JIT)
def place_pass(z, ztc, u, v, table, empty, check_z, co_x, co_y, h, w, pad, wp, span, grid,
               exact_index, exact_zt):
    """Every source pixel's footprint from its reading ``z``, float32 target z ``ztc`` and
    float32 centre ``u``, ``v`` (the pass-specific part, :func:`register_pass` and
    :func:`lookup_pass`) and its column of the pixel table, written into ``grid`` (padded, flat);
    the pixels the exact path must take into ``exact_index``/``exact_zt``. Returns how many.
    The first loop has no branch and no data-dependent store, so that it compiles to SIMD; the
    rows of the visibility range are read only for the few undecided pixels."""
    n = z.size
    first, shape, value = np.empty(n, np.int32), np.empty(n, np.int8), np.empty(n, np.float32)
    one, inf = F32(1), F32(np.inf)
    for i in range(n):
        s = one / ztc[i]
        f, sh, ok = _footprint(
            _edge(s, table[0, i], table[1, i], table[2, i], u[i]),
            _edge(s, table[3, i], table[4, i], table[5, i], u[i]),
            _edge(s, table[6, i], table[7, i], table[8, i], v[i]),
            _edge(s, table[9, i], table[10, i], table[11, i], v[i]), u[i], v[i], s, z[i],
            table[THRESHOLD, i], table[FAST_LO, i], table[FAST_HI, i], empty, check_z, co_x,
            co_y, h, w, pad, wp)
        first[i] = f
        shape[i] = sh
        value[i] = ztc[i] if ok else inf
    # undecided pixels (value +inf; a target z is finite) whose point can be seen: the exact path
    n_exact = 0
    for i in range(n):
        if value[i] == inf and z[i] > 0:
            s = one / ztc[i]
            if s >= table[SEEN_LO, i] and s <= table[SEEN_HI, i]:
                exact_index[n_exact] = i
                exact_zt[n_exact] = ztc[i]
                n_exact += 1
    write_footprints(grid, first, shape, value, span, wp)
    return n_exact


@njit(**JIT)
def write_footprints(grid, first, shape, value, span, wp):
    """The z-buffer of the placed footprints: ``grid`` (padded, flat) gets, in each footprint's
    (span + 1)^2 cells from ``first``, the min of its value where the footprint (``shape`` =
    dx + 8 dy) covers the cell. A pass of its own, branch-free: neighbouring footprints share
    cells, and writing them in the loop that computes them chains every pixel's arithmetic to
    the previous pixel's writes."""
    inf = F32(np.inf)
    for i in range(first.size):
        dx, dy = shape[i] % 8, shape[i] // 8
        z = value[i]
        for ry in range(span + 1):
            row = first[i] + ry * wp
            for rx in range(span + 1):
                cell = z if (rx <= dx) & (ry <= dy) else inf
                grid[row + rx] = min(grid[row + rx], cell)


@njit(**HELPER)
def _radial32(r2, k1, k2, k3, k4, k5, k6, with_k3):
    """The radial factor of ``Projection._distort32`` (float32; ``with_k3``: the k3 term is
    computed, as the numpy code does unless the tables are scaled and k3 is 0)."""
    one = F32(1)
    if with_k3:
        rad = r2 * k3
        rad += k2
        rad *= r2
    else:
        rad = r2 * k2
    rad += k1
    rad *= r2
    rad += one
    if k4 != 0 or k5 != 0 or k6 != 0:
        den = r2 * k6
        den += k5
        den *= r2
        den += k4
        den *= r2
        den += one
        rad /= den
    return rad


@njit(**HELPER)
def _distort32(x, y, k1, k2, p1, p2, k3, k4, k5, k6, fx, fy, cx, cy, scaled, distorted,
               given_centres):
    """``Projection._distort32`` for one pixel (float32)."""
    two = F32(2)
    if scaled:
        if distorted:
            r2 = x * x
            r2 += y * y
            rad = _radial32(r2, k1, k2, k3, k4, k5, k6, k3 != 0)
            x *= rad
            y *= rad
        if given_centres:
            x += cx
            y += cy
        return x, y
    r2 = x * x
    r2 += y * y
    rad = _radial32(r2, k1, k2, k3, k4, k5, k6, True)
    u = x * rad
    v = y * rad
    if p1 != 0 or p2 != 0:
        xy = x * y
        xy *= two
        u += p1 * xy + p2 * (r2 + two * x * x)
        v += p1 * (r2 + two * y * y) + p2 * xy
    u *= fx
    v *= fy
    if given_centres:
        u += cx
        v += cy
    return u, v


@njit(**JIT)
def register_pass(z, table, rays, t2, k32, f32, scaled, distorted, given_centres, empty,
                  check_z, co_x, co_y, h, w, pad, wp, span, grid, exact_index, exact_zt):
    """``Projection.register``'s per-frame pass: every source pixel's footprint into ``grid``
    (padded, flat, +inf where nothing landed yet); returns how many pixels went to the exact list
    (``exact_index``, their float32 target z in ``exact_zt``)."""
    n = z.size
    ztc, u, v = np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, np.float32)
    k1, k2, p1, p2, k3, k4, k5, k6 = k32[0], k32[1], k32[2], k32[3], k32[4], k32[5], k32[6], \
        k32[7]
    fx, fy, cx, cy = f32[0], f32[1], f32[2], f32[3]
    one = F32(1)
    for i in range(n):
        zt = F32(np.float64(z[i]) * rays[2, i] + t2)     # the float32 of the float64 target z
        s = one / zt
        x = table[D_X, i] * s
        x += table[M_X, i]
        y = table[D_Y, i] * s
        y += table[M_Y, i]
        u[i], v[i] = _distort32(x, y, k1, k2, p1, p2, k3, k4, k5, k6, fx, fy, cx, cy, scaled,
                                distorted, given_centres)
        ztc[i] = zt
    return place_pass(z, ztc, u, v, table, empty, check_z, co_x, co_y, h, w, pad, wp, span,
                      grid, exact_index, exact_zt)


@njit(**HELPER)
def _project64(x, y, fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6, distorted, max_ray_r2):
    """``registration._project_normalised`` for one point (float64, at most 8 coefficients)."""
    if not distorted:
        return fx * x + cx, fy * y + cy
    r2 = x * x + y * y
    if k3 != 0:
        radial = r2 * k3 + k2
    else:
        radial = k2
    radial = r2 * radial + k1
    radial = 1 + r2 * radial
    if k4 != 0 or k5 != 0 or k6 != 0:
        radial = radial / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd, yd = x * radial, y * radial
    if p1 != 0 or p2 != 0:
        xy = x * y
        xd = xd + 2 * p1 * xy + p2 * (r2 + 2 * x * x)
        yd = yd + p1 * (r2 + 2 * y * y) + 2 * p2 * xy
    u = xd * fx
    u += cx
    v = yd * fy
    v += cy
    outside = r2 > max_ray_r2             # (a select, not a branch: the loop stays SIMD)
    return (np.nan if outside else u), (np.nan if outside else v)


@njit(**HELPER)
def _point64(zc, ax, ay, az, t0, t1, t2, fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6,
             distorted, max_ray_r2):
    """``Projection._points`` for one point ``zc * a + t`` (float64): its target pixel, NaN
    behind the target or beyond its ``max_ray_r2``."""
    pz = zc * az + t2
    x = (zc * ax + t0) / pz
    y = (zc * ay + t1) / pz
    behind = not (pz > 0)
    x = np.nan if behind else x
    y = np.nan if behind else y
    return _project64(x, y, fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6, distorted,
                      max_ray_r2)


@njit(**HELPER)
def _cover(lo, hi, centre, margin, half, most):
    """``registration._cover`` for one axis: the first and last pixel a footprint covers."""
    a = int(np.ceil(lo - margin))
    b = int(np.floor(hi + margin))
    nearest = int(np.floor(centre + 0.5))
    if b < a:
        a = nearest
        b = nearest
    a = max(a, nearest - half)
    b = min(b, a + most - 1)
    return a, b


@njit(**JIT)
def exact_pass(index, z, zt, rays, corner_rays, source_width, t, K64, k64, distorted,
               max_ray_r2, margin, max_footprint, h, w, pad, wp, grid):
    """``Projection._exact_candidates`` + the z-buffer write for the pixels ``index`` the float32
    pass left undecided (readings ``z`` of every source pixel, their float32 target z ``zt``):
    all five points of each (centre, then corners (i, j), (i, j + 1), (i + 1, j), (i + 1, j + 1))
    projected in float64, the covered pixels by ``_cover``, clipped to the target, min into
    ``grid``."""
    fx, fy, cx, cy = K64[0], K64[1], K64[2], K64[3]
    k1, k2, p1, p2, k3, k4, k5, k6 = k64[0], k64[1], k64[2], k64[3], k64[4], k64[5], k64[6], \
        k64[7]
    t0, t1, t2 = t[0], t[1], t[2]
    half = max_footprint // 2
    for m in range(index.size):
        i = index[m]
        zc = np.float64(z[i])
        cu, cv = _point64(zc, rays[0, i], rays[1, i], rays[2, i], t0, t1, t2, fx, fy, cx, cy,
                          k1, k2, p1, p2, k3, k4, k5, k6, distorted, max_ray_r2)
        seen = np.isfinite(cu) & np.isfinite(cv)
        first = i // source_width * (source_width + 1) + i % source_width
        lo_u = lo_v = np.inf
        hi_u = hi_v = -np.inf
        for corner in (first, first + 1, first + source_width + 1, first + source_width + 2):
            u, v = _point64(zc, corner_rays[0, corner], corner_rays[1, corner],
                            corner_rays[2, corner], t0, t1, t2, fx, fy, cx, cy, k1, k2, p1, p2,
                            k3, k4, k5, k6, distorted, max_ray_r2)
            seen = seen & np.isfinite(u) & np.isfinite(v)
            lo_u, hi_u = min(lo_u, u), max(hi_u, u)
            lo_v, hi_v = min(lo_v, v), max(hi_v, v)
        if not seen:
            continue
        j0, j1 = _cover(lo_u, hi_u, cu, margin, half, max_footprint)
        i0, i1 = _cover(lo_v, hi_v, cv, margin, half, max_footprint)
        j0, j1, i0, i1 = max(j0, 0), min(j1, w - 1), max(i0, 0), min(i1, h - 1)
        value = zt[m]
        for row in range(i0, i1 + 1):
            base = (row + pad) * wp + pad
            for col in range(j0, j1 + 1):
                if value < grid[base + col]:
                    grid[base + col] = value


@njit(**JIT)
def lookup_pass(z, table, rays, t, K64, k64, distorted, max_ray_r2, empty, check_z, co_x, co_y,
                h, w, pad, wp, span, grid, exact_index, exact_zt, zt, near_cell, has_point,
                map_x, map_y):
    """``Projection.lookup``'s first pass: per source pixel the float64 centre in the target
    (``_centre_chunk``), its target z (``zt``), its footprint, whether it has a point, its nearest
    target pixel and, where it has a point, the maps. Returns the exact list's length."""
    n = z.size
    ztc, uc, vc = np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, np.float32)
    fx, fy, cx, cy = K64[0], K64[1], K64[2], K64[3]
    k1, k2, p1, p2, k3, k4, k5, k6 = k64[0], k64[1], k64[2], k64[3], k64[4], k64[5], k64[6], \
        k64[7]
    t0, t1, t2 = t[0], t[1], t[2]
    hw, ww = np.float64(h - 1), np.float64(w - 1)
    for i in range(n):
        zc = z[i]
        zn = np.float64(zc) if zc > 0 else np.nan
        pz = zn * rays[2, i] + t2
        x = (zn * rays[0, i] + t0) / pz
        y = (zn * rays[1, i] + t1) / pz
        behind = pz <= 0                      # selects, as everywhere in this loop
        pz = np.nan if behind else pz
        x = np.nan if behind else x
        y = np.nan if behind else y
        u, v = _project64(x, y, fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6, distorted,
                          max_ray_r2)
        zt[i] = pz
        ztc[i], uc[i], vc[i] = F32(pz), F32(u), F32(v)
        has = np.isfinite(u) & np.isfinite(v)
        has_point[i] = has
        iu = u + 0.5                          # fmax / fmin: NaN -> the other operand
        iu = iu if iu > 0 else 0.0
        iu = iu if iu < ww else ww
        iv = v + 0.5
        iv = iv if iv > 0 else 0.0
        iv = iv if iv < hw else hw
        near_cell[i] = int(np.floor(iv) * w + np.floor(iu))
        map_x[i] = F32(u) if has else map_x[i]
        map_y[i] = F32(v) if has else map_y[i]
    return place_pass(z, ztc, uc, vc, table, empty, check_z, co_x, co_y, h, w, pad, wp, span,
                      grid, exact_index, exact_zt)


@njit(**JIT)
def occlusion_pass(zt, zbuf, near_cell, has_point, map_x, map_y, margin, offset, hidden_shift):
    """``Projection.lookup``'s occlusion test: a source pixel whose target z exceeds the target's
    own z-buffer (float32 ``near * margin + offset``) is moved ``hidden_shift`` out of the image."""
    zero = F32(0)
    for i in range(zt.size):
        near = zbuf[near_cell[i]]
        shift = hidden_shift if has_point[i] & (near > 0) & (zt[i] > near * margin + offset) \
            else zero                         # x - 0 is x: a select, not a branch, per pixel
        map_x[i] -= shift
        map_y[i] -= shift
