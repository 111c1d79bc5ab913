"""Stage 5 of a render, lights and shading: the 20 directional lights and how they shade the painted face.

The head, face, nose, cheeks, lips, chin, brow ridge, neck, shoulders and hair are unions of ellipsoids
(:func:`_solids`); their normals are found on a coarse grid by casting one view ray per cell
(:func:`_soft_union`), then lit by one of :data:`LIGHTS` (Lambert + Blinn-Phong, :func:`_light`), with soft
ambient occlusion in the eye sockets, under the nose and under the chin (:func:`_ambient_occlusion`) and soft
colour changes (blush, eye shadow, stubble, :func:`_tint`). The maps are smooth: they are computed at low
resolution and upsampled by :func:`facekit.data.synthfaces.render`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from facekit.data.synthfaces._arrays import _norm3, _readonly
from facekit.data.synthfaces.geometry import _EYES, _SHAPE_ATTRIBUTES, _landmarks_3d, _shape
from facekit.data.synthfaces.identity import identity_params
from facekit.data.synthfaces.scene import _Scene


@dataclass(frozen=True)
class Light:
    """A directional light: where it comes from and how strong the ambient and diffuse terms are.

    Args:
        azimuth: degrees; 0 is the camera direction, positive lights the image's right side of the face.
        elevation: degrees; positive is above the head.
        ambient: the share of light that reaches every surface.
        diffuse: the strength of the Lambertian term.
    """

    azimuth: float
    elevation: float
    ambient: float
    diffuse: float

    @property
    def direction(self) -> np.ndarray:
        """Unit vector towards the light, camera frame (x right, y down, z towards the camera). Shape ``(3,)``."""
        a, e = math.radians(self.azimuth), math.radians(self.elevation)
        return np.array([math.sin(a) * math.cos(e), -math.sin(e), math.cos(a) * math.cos(e)], np.float32)


def _make_lights() -> tuple[Light, ...]:
    lights = [Light(0.0, 10.0, 0.62, 0.45)]  # 0: frontal and soft, as MultiPIE's no-flash / frontal-flash
    for az in (-75, -60, -45, -30, -15, 0, 15, 30, 45, 60, 75):  # 1-11: a ring at head height
        lights.append(Light(float(az), 0.0, 0.40, 0.72))
    for az in (-55, -20, 20, 55):  # 12-15: above
        lights.append(Light(float(az), 35.0, 0.42, 0.70))
    for az in (-35, 35):  # 16-17: below
        lights.append(Light(float(az), -20.0, 0.45, 0.62))
    lights.append(Light(0.0, 55.0, 0.45, 0.68))  # 18: from the top
    lights.append(Light(0.0, 20.0, 0.50, 0.60))  # 19: frontal, a little above
    return tuple(lights)


LIGHTS: tuple[Light, ...] = _make_lights()
"""The 20 lights (index 0 = frontal and soft; 1-11 a ring from the left to the right at head height; 12-15 above;
16-17 below; 18 from the top; 19 frontal and a little above)."""

N_LIGHTS: int = len(LIGHTS)
"""Number of lights (20, as MultiPIE's illumination conditions)."""


def _solids(sc: _Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shading solids, ellipsoids in the head frame: the skull, the face, the nose (a tilted ridge and its
    tip), the lips, the chin, the brow ridge, the neck, the shoulders, the cheeks and the hair.

    Returns:
        ``(centers (K, 3), axes (K, 3, 3), radii (K, 3))``; the rows of ``axes[k]`` are the solid's unit axes. The
        skull comes first (it also shades the cells that no solid covers). Cached per identity and attributes
        (read-only).
    """
    return _solids_of(sc.p.identity, sc.key, not sc.a["Bald"] and sc.a["hair_style"] != "buzz")


@functools.lru_cache(maxsize=4096)
def _solids_of(identity: int, key: tuple[int, ...], hair: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = dict(zip(_SHAPE_ATTRIBUTES, key))
    sh = _shape(identity_params(identity), a)
    pts, _ = _landmarks_3d(identity, key)
    tip = pts[30]
    nose_len = float(tip[1] - pts[27][1])
    nose_w = float(pts[35][0] - pts[31][0])
    mouth_w = float(pts[54][0] - pts[48][0])
    cheek = 0.42 * (1.35 if a["Chubby"] else 1.0)
    rows = [  # (cx, cy, cz, rx, ry, rz, tilt about x in degrees)
        (*sh.cranium_c, *sh.cranium_r, 0.0),
        (0.0, 0.5, -0.2, 1.04 * sh.jaw_w, 1.2 * sh.chin_y / 1.66, 0.88, 0.0),
        (0.0, (pts[27][1] + tip[1]) / 2 + 0.04, tip[2] - 0.3, 0.1 + nose_w * 0.18, nose_len * 0.62, 0.31, 24.0),
        (0.0, tip[1] + 0.02, tip[2] - 0.12, nose_w * 0.42, 0.1, 0.12, 0.0),
        (0.0, (pts[51][1] + pts[57][1]) / 2, 0.47, mouth_w * 0.6, 0.2, 0.2, 0.0),
        (0.0, sh.chin_y - 0.25, 0.16, 0.4, 0.3, 0.32, 0.0),
        (0.0, -0.32, 0.42, 0.82, 0.16, 0.3, 0.0),
        (0.0, 1.9, -0.45, 0.62, 1.3, 0.56, 0.0),
        (0.0, 3.4, -0.65, 2.4, 1.0, 1.0, 0.0),
        (-0.5, 0.32, 0.12, 0.42, 0.3, cheek, 0.0),
        (0.5, 0.32, 0.12, 0.42, 0.3, cheek, 0.0),
    ]
    if hair:
        rows.append((*(sh.cranium_c + np.array([0, -0.05, 0], np.float32)), *(sh.cranium_r * 1.08), 0.0))
    table = _readonly(np.asarray(rows, np.float32))  # (K, 7)
    return table[:, :3], _solid_axes(tuple(table[:, 6].tolist())), table[:, 3:6]


@functools.lru_cache(maxsize=16)
def _solid_axes(tilts: tuple[float, ...]) -> np.ndarray:
    """``(K, 3, 3)`` float32: the rows of ``axes[k]`` are solid ``k``'s axes, tilted about x by ``tilts[k]`` degrees
    (cached, read-only: the tilts are the same for every face)."""
    t = np.radians(np.array(tilts, np.float32))
    axes = np.zeros((len(tilts), 3, 3), np.float32)
    axes[:, 0, 0] = 1.0
    axes[:, 1, 1], axes[:, 1, 2] = np.cos(t), np.sin(t)  # the local y axis leans forwards by `tilt`
    axes[:, 2, 1], axes[:, 2, 2] = -np.sin(t), np.cos(t)
    return _readonly(axes)


_SMALL_SOLIDS = slice(2, 7)  # the nose, its tip, the lips, the chin, the brow ridge (see _solids)
_CHEEKS = slice(9, 11)


@functools.lru_cache(maxsize=4)
def _small_solids(k: int) -> np.ndarray:
    """``(k,)`` bool: which of the ``k`` solids are small (cached, read-only)."""
    small = np.zeros(k, bool)
    small[_SMALL_SOLIDS] = small[_CHEEKS] = True
    return _readonly(small)


@functools.lru_cache(maxsize=64)
def _cell_centres(n: int) -> np.ndarray:
    """``0.5, 1.5, ..., n - 0.5`` as float32 (cached, read-only)."""
    return _readonly(np.arange(n, dtype=np.float32) + 0.5)


def _soft_union(A: np.ndarray, c: np.ndarray, u: np.ndarray, v: np.ndarray,
                floor: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted sum of the outward normals of ellipsoids ``(x - c)^T A (x - c) = 1`` seen along the view ray.

    Args:
        A: ``(K, 3, 3)`` shape matrices, camera frame; c: ``(K, 3)`` centres.
        u, v: the grid's x ``(W,)`` and y ``(H,)`` coordinates, head units, camera frame.
        floor: give the first solid a tiny weight everywhere (its rim-clipped normal then shades uncovered cells).

    Returns:
        The three ``(H, W)`` planes (x, y, z) of ``sum_k w_k n_k`` with ``n_k`` the unit normal of solid ``k`` at
        its front surface and ``w_k = exp(10 z_k)`` faded to 0 at its rim (a soft z-buffer: the front-most solid
        wins, meeting solids blend their normals over ~0.1 head units instead of making a crease).
    """
    # The (K, H, W) arrays are updated in place where possible (fewer big temporaries); each in-place step does
    # the same floating-point operation as the formula in its comment, so the result is bit for bit the same.
    a = A[:, :, :, None, None]  # (K, 3, 3, 1, 1) for broadcasting over the grid
    dx = u[None, None, :] - c[:, 0, None, None]  # (K, 1, W)
    dy = v[None, :, None] - c[:, 1, None, None]  # (K, H, 1)
    # the ray's quadratic in z is a2 z^2 + b z + cc = 0
    b = a[:, 0, 2] * dx + a[:, 1, 2] * dy
    b *= 2  # b = 2 (a02 dx + a12 dy), (K, H, W)
    cc = 2 * a[:, 0, 1] * dx * dy
    np.add(a[:, 0, 0] * dx * dx, cc, out=cc)
    cc += a[:, 1, 1] * dy * dy
    cc -= 1  # cc = a00 dx dx + 2 a01 dx dy + a11 dy dy - 1
    disc = b * b
    cc *= 4 * a[:, 2, 2]
    disc -= cc  # disc = b b - 4 a22 cc
    root = np.sqrt(np.maximum(disc, 0.0, out=disc), out=disc)
    twice_a22 = 2 * a[:, 2, 2]
    dz = np.subtract(root, b, out=b)
    dz /= twice_a22  # dz = (root - b) / (2 a22): the front surface, relative to the centre
    nx = a[:, 0, 0] * dx + a[:, 0, 1] * dy  # n = A (x - c): the gradient, i.e. the outward normal
    nx += a[:, 0, 2] * dz
    ny = a[:, 1, 0] * dx + a[:, 1, 1] * dy
    ny += a[:, 1, 2] * dz
    nz = a[:, 2, 0] * dx + a[:, 2, 1] * dy
    nz += a[:, 2, 2] * dz
    chord = np.divide(root, twice_a22, out=root)  # half the solid's thickness along the ray
    z = c[:, 2, None, None] + dz
    z *= 10.0
    w = np.exp(np.minimum(z, 30.0, out=z))
    chord *= 12.0
    w *= np.minimum(chord, 1.0, out=chord)  # w = exp(min(10 z, 30)) min(12 chord, 1)
    if floor:
        w[0] = np.maximum(w[0], 1e-12)
    norm = nx * nx
    norm += ny * ny
    norm += nz * nz
    norm = np.sqrt(norm, out=norm)
    norm += 1e-9
    w /= norm  # w /= |n| + 1e-9
    nx *= w
    ny *= w
    nz *= w
    return nx.sum(0), ny.sum(0), nz.sum(0)


def _shading(sc: _Scene, light: Light, grid: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse shading and specular highlights of the foreground on a ``(grid, grid)`` map.

    Each grid cell casts a ray along the view direction; the solids of :func:`_solids` it meets give a soft
    z-buffered normal (:func:`_soft_union`), lit by Lambert's law plus a Blinn-Phong highlight. The big, smooth
    solids (skull, face, neck, shoulders, hair) are evaluated on a grid half as fine and upsampled; the small ones
    (nose, lips, chin, brows, cheeks) at full resolution around the face only.

    Returns:
        ``(shade, spec)``: two ``(grid, grid)`` float32 maps (shade ~ 0.3..1.2, spec >= 0).
    """
    cam = sc.cam
    step = size / grid
    centers, axes, radii = _solids(sc)
    c = cam.to_camera(centers)  # (K, 3)
    q = axes @ cam.R.T  # (K, 3, 3): rows = the solids' axes in the camera frame
    A = np.einsum("kji,kj,kjl->kil", q, 1.0 / radii ** 2, q)  # (K, 3, 3)
    small = _small_solids(len(A))

    def axis(n: int, stride: float, origin: float) -> np.ndarray:  # grid cell centres -> head units
        return (_cell_centres(n) * stride - 0.5 - origin) / cam.scale

    # The normal maps are kept as three (x, y, z) planes: numpy is slow on a last axis of 3 (see _norm3)
    if grid <= 32:  # small images: one pass over every solid is cheaper than two
        normal = _soft_union(A, c, axis(grid, step, cam.origin[0]), axis(grid, step, cam.origin[1]), floor=True)
        return _light(sc, _unit(normal, 1e-9), light, step)
    coarse = grid // 2
    cstep = size / coarse
    normal = _soft_union(A[~small], c[~small], axis(coarse, cstep, cam.origin[0]),
                         axis(coarse, cstep, cam.origin[1]), floor=True)  # 3 x (g, g)
    # upsample direction and log-weight separately: the weights span many orders of magnitude, and a plain
    # linear interpolation of the weighted sums would snap to the heavier cell (blocky edges)
    weight = _norm3(normal) + 1e-30  # (g, g)
    direction = cv2.resize(cv2.merge([n / weight for n in normal]), (grid, grid),
                           interpolation=cv2.INTER_LINEAR)  # (G, G, 3)
    log_weight = cv2.resize(np.log(weight), (grid, grid), interpolation=cv2.INTER_LINEAR)  # (G, G)
    weight = np.exp(log_weight)
    normal = [direction[..., k] * weight for k in range(3)]  # 3 x (G, G)
    margin = 0.3 * cam.scale
    lo = np.clip(((sc.lm.min(0) - margin + 0.5) / step - 0.5).astype(int), 0, grid)  # face box, in cells
    hi = np.clip(((sc.lm.max(0) + margin + 0.5) / step + 0.5).astype(int), 0, grid)
    if (hi > lo).all():
        xs = axis(grid, step, cam.origin[0])[lo[0]:hi[0]]
        ys = axis(grid, step, cam.origin[1])[lo[1]:hi[1]]
        for plane, small_plane in zip(normal, _soft_union(A[small], c[small], xs, ys, floor=False)):
            plane[lo[1]:hi[1], lo[0]:hi[0]] += small_plane
    return _light(sc, _unit(normal, 1e-9), light, step)


def _unit(planes: Sequence[np.ndarray], eps: float) -> np.ndarray:
    """Normalise 3-vectors given as x, y, z planes: ``v / (|v| + eps)`` as one ``(..., 3)`` array."""
    length = _norm3(planes) + eps
    return cv2.merge([plane / length for plane in planes])


@functools.lru_cache(maxsize=64)
def _light_vectors(light: Light) -> tuple[np.ndarray, np.ndarray]:
    """The light's direction and its Blinn-Phong half vector, ``(3,)`` float32 each (cached, read-only)."""
    ldir = light.direction
    half_vec = ldir + np.array([0, 0, 1], np.float32)
    half_vec /= np.linalg.norm(half_vec)
    return _readonly(ldir, half_vec)


def _light(sc: _Scene, normal: np.ndarray, light: Light, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Lambert + Blinn-Phong shading of a ``(G, G, 3)`` unit-normal map, then ambient occlusion."""
    ldir, half_vec = _light_vectors(light)
    shade = light.ambient + light.diffuse * np.maximum(normal @ ldir, 0.0)
    spec = (light.diffuse * 0.22) * np.maximum(normal @ half_vec, 0.0) ** 24
    _ambient_occlusion(sc, shade, step, light)
    return shade, spec  # both float32


def _blob_map(blobs: list[tuple[float, float, float, float, Sequence[float]]], grid: int, step: float) -> np.ndarray:
    """Sum of axis-aligned Gaussian blobs on a grid map.

    Args:
        blobs: ``(cx, cy, sx, sy, strengths)`` each: centre and standard deviations in output pixels, and one
            strength per channel.
        grid: map side in cells; ``step``: output pixels per cell.

    Returns:
        ``(grid, grid, C)`` float32: ``sum_b strength_b * exp(-((x - cx)^2 / 2 sx^2 + (y - cy)^2 / 2 sy^2))``.
    """
    geo = np.asarray([b[:4] for b in blobs], np.float32)  # (B, 4)
    strength = np.asarray([b[4] for b in blobs], np.float32)  # (B, C)
    cells = np.arange(grid, dtype=np.float32)
    centre = (geo[:, :2] + 0.5) / step - 0.5  # in cells
    sigma = np.maximum(geo[:, 2:] / step, 0.5)
    gx = np.exp(-0.5 * ((cells[None, :] - centre[:, 0:1]) / sigma[:, 0:1]) ** 2)  # (B, G)
    gy = np.exp(-0.5 * ((cells[None, :] - centre[:, 1:2]) / sigma[:, 1:2]) ** 2)  # (B, G)
    return np.einsum("bi,bj,bc->ijc", gy, gx, strength)


def _eye_centres(sc: _Scene) -> list[np.ndarray]:
    """The centre of each eye's landmarks, ``(2,)`` pixels (image-left eye first; computed once per render)."""
    if sc._eye_centres is None:
        sc._eye_centres = [sc.lm[group].sum(0) / 6 for group in _EYES]
    return sc._eye_centres


def _ambient_occlusion(sc: _Scene, shade: np.ndarray, step: float, light: Light) -> None:
    """Darken the eye sockets, under the nose, lips and chin, and the nose's cast shadow (in place)."""
    lm, s = sc.lm, sc.cam.scale
    squash = max(0.35, abs(float(sc.cam.R[2, 2])))  # frontal features narrow as the head turns
    blobs = []
    for cx, cy in _eye_centres(sc):  # eye sockets
        blobs.append((cx, cy - 0.06 * s, 0.24 * s * squash, 0.16 * s, (0.32,)))
        blobs.append((cx, cy, 0.16 * s * squash, 0.07 * s, (0.18,)))
    blobs.append((lm[33, 0], lm[33, 1] + 0.05 * s, 0.18 * s * squash, 0.05 * s, (0.3,)))  # under the nose
    blobs.append((lm[57, 0], lm[57, 1] + 0.1 * s, 0.2 * s * squash, 0.06 * s, (0.18,)))  # under the lower lip
    blobs.append((lm[8, 0], lm[8, 1] + 0.3 * s, 0.55 * s, 0.18 * s, (0.45,)))  # the neck under the chin
    ld = _light_vectors(light)[0]
    if abs(ld[0]) > 0.2:  # the nose's cast shadow on the cheek away from the light
        c = lm[29] * 0.5 + lm[31 if ld[0] > 0 else 35] * 0.5
        blobs.append((c[0] - ld[0] * 0.12 * s, c[1], 0.07 * s, 0.16 * s,
                      (0.3 * light.diffuse * min(1.0, abs(float(ld[0])) * 1.5),)))
    shade *= np.maximum(1.0 - _blob_map(blobs, shade.shape[0], step)[..., 0], 0.2)


def _tint(sc: _Scene, grid: int, size: int) -> Optional[np.ndarray]:
    """Soft colour changes (blush, eye shadow, stubble, under-eye shadows): a ``(grid, grid, 3)`` multiplier."""
    a, lm, s = sc.a, sc.lm, sc.cam.scale
    squash = max(0.35, abs(float(sc.cam.R[2, 2])))
    blobs = []
    if a["Rosy_Cheeks"]:
        for k in (3, 13):
            c = lm[k] * 0.45 + lm[30] * 0.55
            blobs.append((c[0], c[1] - 0.05 * s, 0.16 * s * squash, 0.12 * s, (0.0, 0.22, 0.16)))
    if a["Wearing_Lipstick"]:  # eye shadow
        for cx, cy in _eye_centres(sc):
            blobs.append((cx, cy - 0.08 * s, 0.15 * s * squash, 0.06 * s, (0.12, 0.18, 0.08)))
    if a["5_o_Clock_Shadow"]:
        for k in (4, 6, 8, 10, 12):
            c = lm[k] * 0.8 + lm[57] * 0.2
            blobs.append((c[0], c[1], 0.22 * s, 0.2 * s, (0.2, 0.17, 0.12)))
        c = (lm[33] + lm[51]) / 2
        blobs.append((c[0], c[1], 0.25 * s * squash, 0.06 * s, (0.2, 0.17, 0.12)))
    if not a["Young"]:  # under-eye bags
        for cx, cy in _eye_centres(sc):
            blobs.append((cx, cy + 0.13 * s, 0.16 * s * squash, 0.06 * s, (0.2, 0.24, 0.16)))
    if not blobs:
        return None
    return np.maximum(1.0 - _blob_map(blobs, grid, size / grid), 0.3)
