"""Stage 4 of a render, the albedo: one painter per part of the face, each a function ``_draw_*(pa, sc)`` that
draws on the supersampled canvas (:class:`~facekit.data.synthfaces.canvas._Painter`) what the scene
(:class:`~facekit.data.synthfaces.scene._Scene`) holds.

:func:`facekit.data.synthfaces.render` calls them back to front:

====================  ==========================================================================================
module                draws
====================  ==========================================================================================
``hair``              hair behind the head (long hair, buns), the hair cap, bangs, hair in front of the shoulders
``head``              shoulders and neck, the head's skin silhouette, the ears (and, with ``hair``, what lies
                      behind or beside a turned head)
``eyes``              sclera, iris, pupil, catch-light, lids, lashes, crease
``brows``             the eyebrows (tapered, thicker and darker when bushy)
``nose``              nostrils, a pointed tip, alar creases
``mouth``             lips, lipstick, teeth when the mouth is open or smiling
``wrinkles``          nasolabial folds, a double chin, forehead lines, crow's feet
``facial_hair``       sideburns, goatee, mustache
``earrings``          a stud and a drop on each visible lobe
``hats``              CAS-PEAL's three hats: cap, beanie, fedora
``glasses``           CAS-PEAL's three glasses: round, square, sunglasses
====================  ==========================================================================================

Geometry that does not depend on the pose, the light or the size (the hair's sample points, the lenses' rims,
...) is computed once per identity by cached functions named ``*_of`` and only projected for each render.
"""
