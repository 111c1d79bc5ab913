"""SynthFaces: a procedural face renderer, the embedded default dataset of facekit (DESIGN.md section 4).

Every chapter of the course can run offline because of this package: it draws a face from an integer identity, a
set of CelebA-named attributes, a pose and a light, in a few milliseconds, with numpy and OpenCV only. What no real
dataset gives, it gives for free: **exact counterfactuals**. ``render(7)`` and ``render(7, {"Eyeglasses": 1})`` are
the same person, background, pose and light, pixel for pixel, except where the glasses are.

How a face is made (read :func:`render` top to bottom; each step is one small function, each stage one module):

1. **Identity** (:func:`identity_params`, ``identity.py``): the integer seeds a random generator that draws a
   parameter vector (head and jaw shape, skin tone from a natural palette, eye, brow, nose and mouth shape and
   placement, hair style and colour, ...) and the identity's default attributes (``Male``, ``Young``,
   ``Big_Nose``, beard, ...).
2. **Attributes** (:func:`resolve_attributes`, ``attributes.py``; the names themselves in ``names.py``): the
   caller's overrides are checked and merged with the defaults.
3. **Geometry and camera** (:func:`landmarks_3d`, ``geometry.py`` and ``camera.py``): a 3-D template of the 68
   iBUG-300W landmarks, deformed by the identity and the attributes, is rotated (yaw, then pitch) and projected
   orthographically.
4. **Albedo** (``canvas.py``, and one painter per face part in ``painters/``): the face is painted with
   anti-aliased OpenCV polygons on a canvas twice the output size (the *supersampled* canvas), back to front: hair
   behind, body, ears, head, eyes, nose, mouth, hair in front, beard, hat, glasses. The canvas is shrunk with
   ``cv2.INTER_AREA``, which anti-aliases every edge.
5. **Lights and shading** (``lighting.py``): the head, nose, cheeks, lips, neck and hair are unions of ellipsoids;
   their normals are found on a coarse grid and lit by one of :data:`~lighting.N_LIGHTS` directional lights (Lambert +
   Blinn-Phong), with soft ambient occlusion in the eye sockets, under the nose and under the chin. Smooth maps, so
   they are computed at low resolution and upsampled.
6. **Backdrop and noise** (``backdrop.py``): the face is composited over a lit backdrop and a little sensor noise
   is added (``pipeline.py`` holds :func:`render`, which runs the six stages).

Below 96 px, details thinner than half a pixel (hair strands, fine wrinkles, eyelid creases) are not drawn.

The modules, in the order a render uses them::

    names.py        attribute names (CelebA's), accessory and hair styles, hair colours, valid poses and sizes
    identity.py     an integer -> FaceParams: shape, colours, styles, default attributes
    attributes.py   defaults + overrides -> one consistent attributes dict; attribute vectors
    geometry.py     the head's shape and the 3-D template of the 68 landmarks, one face part at a time
    camera.py       yaw/pitch about a pivot in the neck, orthographic projection to pixels
    scene.py        what one render shares between the painters and the shading
    canvas.py       the supersampled canvas: anti-aliased fixed-point polygons, lines, ellipses, mask
    painters/       one module per face part: hair, head, eyes, brows, nose, mouth, wrinkles, facial_hair,
                    earrings, hats, glasses
    lighting.py     the 20 lights; shading solids, soft-union normals, Lambert + Blinn-Phong, occlusion, tints
    backdrop.py     backdrops and sensor noise (bounded caches)
    pipeline.py     render(): the whole pipeline, top to bottom
    _arrays.py      small numpy helpers every stage shares (read-only marking, cached tables)

Speed: everything that depends only on the identity and a few attributes (the parameters, the 3-D landmarks and
face outline, the hair's sample points, the shading solids, the backdrop) is computed once and kept in bounded
caches (``functools.lru_cache``, whose functions are named ``*_of``), as read-only arrays that every later render
shares; a render then only projects, paints and shades. Such optimisations never change a pixel: the same
floating-point operations run in the same order, only fewer times.

Conventions:

* image coordinates: ``x`` to the right, ``y`` down, the centre of pixel ``(i, j)`` at ``x = j, y = i``;
* landmarks: the iBUG-300W 68-point order (:data:`facekit.landmarks.IBUG68_GROUPS`); "left" and "right" are the
  subject's own sides, so the subject's right eye (points 36-41) is on the image's left in a frontal face;
* yaw: degrees in [-45, 45]; positive yaw turns the face towards the image's right (the nose moves right and the
  face's image-right side turns away); MultiPIE's seven cameras are :data:`~names.MULTIPIE_YAWS`;
* pitch: degrees in [-20, 20]; positive pitch tilts the face up;
* light: an index into :data:`~lighting.LIGHTS`; 0 is frontal and soft, 1-19 are directional lights from the
  left (low indices) round to the right, most at head height, some above or below, as MultiPIE's 20 flash
  conditions.

Attributes (:data:`~names.ATTRIBUTES`, CelebA's names, in CelebA's order) are of two kinds: *traits* of the person
(Male, Young, hair colour, Big_Nose, ...) whose default comes from the identity, and *states*
(:data:`~names.STATE_ATTRIBUTES`: Eyeglasses, Wearing_Hat, Wearing_Earrings, Smiling, Mouth_Slightly_Open) that are
off by default. Accessory *types* as in CAS-PEAL are chosen with two extra keys: ``glasses_style`` in
:data:`~names.GLASSES_STYLES` (round, square, sunglasses) and ``hat_style`` in :data:`~names.HAT_STYLES` (cap,
beanie, fedora); without them the identity's own favourite style is used. Accessories never move a landmark (the
``visible`` flags only describe self-occlusion by the head under yaw).

Determinism: the same arguments give the same pixels in a given installation. The generator is numpy's
``default_rng`` (PCG64); a future numpy may change its samplers, and so the faces.

Example:
    >>> from facekit.data.synthfaces import render, ATTRIBUTES
    >>> face = render(7, {"Eyeglasses": 1, "glasses_style": "round"}, yaw=15, light=3, size=128)
    >>> face["image"].shape, face["image"].dtype, face["landmarks"].shape
    ((128, 128, 3), dtype('uint8'), (68, 2))
    >>> face["attributes"]["Eyeglasses"], face["attributes"]["glasses_style"]
    (1, 'round')
"""

from facekit.data.synthfaces.attributes import attributes_from_vector, attributes_to_vector, resolve_attributes
from facekit.data.synthfaces.geometry import landmarks_3d
from facekit.data.synthfaces.identity import FaceParams, identity_params
from facekit.data.synthfaces.lighting import LIGHTS, N_LIGHTS, Light
from facekit.data.synthfaces.names import (
    ATTRIBUTES,
    GLASSES_STYLES,
    HAIR_COLOURS,
    HAIR_STYLES,
    HAT_STYLES,
    MAX_SIZE,
    MIN_SIZE,
    MULTIPIE_YAWS,
    PITCH_RANGE,
    STATE_ATTRIBUTES,
    STYLE_KEYS,
    YAW_RANGE,
)
from facekit.data.synthfaces.pipeline import render

__all__ = [
    "ATTRIBUTES",
    "STATE_ATTRIBUTES",
    "GLASSES_STYLES",
    "HAT_STYLES",
    "HAIR_STYLES",
    "HAIR_COLOURS",
    "STYLE_KEYS",
    "MULTIPIE_YAWS",
    "YAW_RANGE",
    "PITCH_RANGE",
    "LIGHTS",
    "N_LIGHTS",
    "MIN_SIZE",
    "MAX_SIZE",
    "Light",
    "FaceParams",
    "identity_params",
    "resolve_attributes",
    "attributes_to_vector",
    "attributes_from_vector",
    "landmarks_3d",
    "render",
]
