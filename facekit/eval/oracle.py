"""The SynthFaces oracle: an independent judge of attributes and identity for scoring edits.

Every editing method of the course is optimised *through* a face network (VGG-Face, or offline its stand-in
:class:`facekit.nn.SynthFaceNet`). Scoring an edit with that same network would reward images that fool it, not
images that changed the attribute and kept the person. The oracle is therefore a **different** network, trained
separately (``scripts/train_oracle.py``) on the SynthFaces training identities:

* a small **ResNet** (He et al., CVPR 2016: residual basic blocks with batch normalisation, strided 3x3
  convolutions, global average pooling), where SynthFaceNet is a plain VGG-16 stack with max pooling;
* its own input normalisation: ImageNet's per-channel mean and standard deviation, where SynthFaceNet maps
  ``[0, 1]`` to ``[-1, 1]``; every input is resized to the oracle's training size (64 px) first;
* three heads on the pooled feature: **attributes** (one logit per name of :data:`facekit.data.ATTRIBUTES`,
  trained with binary cross-entropy), **accessory types** (glasses and hat styles, softmax) and an L2-normalised
  **identity embedding** (trained with a CosFace large-margin cosine loss, Wang et al. CVPR 2018, over the training
  identities; the identity classifier is dropped after training, so only the embedding ships). While training, an
  extra head regresses the identity's renderer parameters (face shape, skin and iris colour): SynthFaces knows
  them, and this richer signal teaches features that generalise to unseen people faster than 800 class labels.

Two images show the same person when the cosine similarity of their embeddings is at least
:attr:`Oracle.threshold`. The threshold is calibrated on the *validation* identities at the equal error rate (false
accepts = false rejects) of **edit pairs** (:func:`facekit.eval.protocol.edit_pairs`): a face against the same
person with one attribute switched (sometimes also turned to another yaw), and against another person with that
attribute at the same pose, light and backdrop; this is the question ``identity_kept`` of
:func:`facekit.eval.score_edits` asks. Test identities are never used for training or calibration. Figures on the test identities are in
``facekit/weights/oracle.json`` and printed by ``bench/oracle.py``.

The oracle judges **SynthFaces** images only: on real photographs its answers mean nothing (use
:class:`facekit.eval.DlibIdentity` for identity there).

Example:
    >>> import torch
    >>> net = OracleNet(num_attributes=3, num_identities=10)
    >>> out = net(torch.rand(2, 3, 64, 64))
    >>> tuple(out["attributes"].shape), tuple(out["embedding"].shape), tuple(out["identity"].shape)
    ((2, 3), (2, 128), (2, 10))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facekit.eval.metrics import RANGE_TOLERANCE
from facekit.nn.features import check_image

__all__ = [
    "OracleNet",
    "CosFaceHead",
    "Oracle",
    "load_oracle",
    "oracle_path",
    "OracleNotFoundError",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


class OracleNotFoundError(FileNotFoundError):
    """The oracle's weights (``oracle.pt`` + ``oracle.json``) are not where they were looked for."""


# ----------------------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 conv-BN, ReLU between, plus a shortcut (1x1 conv-BN when the shape changes).

    Shape:
        - input: :math:`(B, C_{in}, H, W)`; output: :math:`(B, C_{out}, H / s, W / s)` with ``s = stride``.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))  # the residual connection


class CosFaceHead(nn.Module):
    r"""Large-margin cosine classifier (CosFace): logits :math:`s(\cos\theta_j - m\,[j = y])`.

    Used only while training the oracle's identity embedding; not shipped.

    Args:
        embedding_dim: size of the (unit) embedding.
        num_classes: training identities.
        scale: :math:`s`.
        margin: :math:`m`, subtracted from the true class's cosine during training.
    """

    def __init__(self, embedding_dim: int, num_classes: int, scale: float = 16.0, margin: float = 0.2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_classes, embedding_dim) * 0.01)
        self.scale, self.margin = float(scale), float(margin)

    def forward(self, embedding: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        cos = embedding @ F.normalize(self.weight, dim=1).t()  # (B, N): embedding is already unit length
        if labels is not None:
            cos = cos - self.margin * F.one_hot(labels, cos.shape[1]).to(cos.dtype)
        return self.scale * cos


# ----------------------------------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------------------------------


class OracleNet(nn.Module):
    """A small ResNet with attribute, accessory-type and identity-embedding heads (see the module docstring).

    Args:
        num_attributes: attribute logits (``len(ATTRIBUTES)``).
        num_identities: training identities of the CosFace head; 0 builds none (the shipped oracle).
        accessories: accessory heads, name -> number of classes (e.g. ``{"glasses": 4, "hat": 4}``, class 0 =
            none).
        widths: channels of the stem and of the four residual stages (each stage halves the resolution).
        embedding_dim: size of the identity embedding.
        image_size: the size inputs are resized to.
        num_params: size of the training-only regression head of the identity's renderer parameters (see
            ``scripts/train_oracle.py``); 0 builds none (the shipped oracle).

    Input: RGB in ``[0, 1]``, ``(B, 3, H, W)``; resized to ``image_size`` and normalised with ImageNet's mean and
    std inside.

    Returns (``forward``): a dict with ``attributes`` ``(B, A)`` logits, ``embedding`` ``(B, E)`` unit vectors,
    ``accessories`` {name: ``(B, K)`` logits}, and, when those heads exist, ``identity`` ``(B, N)`` CosFace logits
    and ``params`` ``(B, P)``.
    """

    def __init__(
        self,
        num_attributes: int,
        num_identities: int = 0,
        accessories: Optional[Mapping[str, int]] = None,
        widths: Sequence[int] = (16, 24, 48, 96, 160),
        embedding_dim: int = 128,
        image_size: int = 64,
        num_params: int = 0,
    ) -> None:
        super().__init__()
        if num_attributes < 1 or len(widths) != 5:
            raise ValueError(f"need num_attributes >= 1 and 5 widths; got {num_attributes} and {tuple(widths)}")
        self.config: Dict[str, Any] = {
            "num_attributes": int(num_attributes),
            "accessories": dict(accessories or {}),
            "widths": [int(w) for w in widths],
            "embedding_dim": int(embedding_dim),
            "image_size": int(image_size),
        }
        self.image_size = int(image_size)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        w = list(widths)
        self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, 1, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True))
        self.stages = nn.Sequential(*[BasicBlock(w[i], w[i + 1], stride=2) for i in range(4)])  # 64 -> 4 px
        self.attributes = nn.Linear(w[4], num_attributes)
        self.accessories = nn.ModuleDict({k: nn.Linear(w[4], int(n)) for k, n in (accessories or {}).items()})
        self.embed = nn.Sequential(nn.Linear(w[4], embedding_dim), nn.BatchNorm1d(embedding_dim))
        # Training-only heads (dropped from the shipped weights; not in ``config``):
        self.identity: Optional[CosFaceHead] = CosFaceHead(embedding_dim, num_identities) if num_identities else None
        self.params: Optional[nn.Linear] = nn.Linear(w[4], num_params) if num_params else None

    def features(self, x: Tensor) -> Tensor:
        """The pooled feature ``(B, widths[-1])`` of images ``(B, 3, H, W)`` in ``[0, 1]``."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size,) * 2, mode="bilinear", align_corners=False, antialias=True)
        x = (x - self.mean) / self.std  # ImageNet normalisation (SynthFaceNet uses [-1, 1] instead)
        x = self.stages(self.stem(x))  # (B, C, 4, 4)
        return x.mean(dim=(2, 3))  # global average pooling

    def forward(self, x: Tensor, identity_labels: Optional[Tensor] = None) -> Dict[str, Any]:
        h = self.features(x)  # (B, C)
        out: Dict[str, Any] = {
            "attributes": self.attributes(h),  # (B, A) logits
            "embedding": F.normalize(self.embed(h), dim=1),  # (B, E), unit length
            "accessories": {k: head(h) for k, head in self.accessories.items()},
        }
        if self.identity is not None:
            out["identity"] = self.identity(out["embedding"], identity_labels)  # (B, N) CosFace logits
        if self.params is not None:
            out["params"] = self.params(h)  # (B, P) the identity's parameters (standardised), an auxiliary task
        return out


# ----------------------------------------------------------------------------------------------------------------
# The judge
# ----------------------------------------------------------------------------------------------------------------


class Oracle:
    """A trained :class:`OracleNet` with its attribute names and calibrated identity threshold.

    Load the shipped one with :func:`load_oracle`. Every method takes RGB images ``(B, 3, H, W)`` in ``[0, 1]``
    (any size; they are resized to 64 px), runs without gradients in eval mode, in chunks of ``batch_size``.

    Args:
        net: the network (its identity head, if any, is not used).
        attribute_names: the name of each attribute logit.
        threshold: cosine similarity at or above which two faces are judged the same person.
        accessory_names: for each accessory head, the name of each class.
        meta: the rest of the metadata (training command, figures), kept for reference.
        device: where to run (default :func:`facekit.get_device`).
        batch_size: images per forward pass.

    Example:
        >>> import torch
        >>> oracle = Oracle(OracleNet(num_attributes=2), ["Smiling", "Eyeglasses"], threshold=0.5, device="cpu")
        >>> oracle.attribute_probabilities(torch.rand(3, 3, 64, 64)).shape
        torch.Size([3, 2])
        >>> oracle.same_identity(torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)).dtype
        torch.bool
    """

    domain = "synth"
    """What it was trained on: SynthFaces renders. It never judges real photos (:mod:`facekit.eval.judges`)."""

    score_name = "cosine"
    """What :meth:`identity_score` returns (higher = more alike); names the results column ``identity_cosine``."""

    def __init__(
        self,
        net: OracleNet,
        attribute_names: Sequence[str],
        threshold: float,
        accessory_names: Optional[Mapping[str, Sequence[str]]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        device: Union[str, torch.device, None] = None,
        batch_size: int = 256,
    ) -> None:
        from facekit.config import get_device

        if len(attribute_names) != net.attributes.out_features:
            raise ValueError(
                f"{len(attribute_names)} attribute names for a network with {net.attributes.out_features} outputs"
            )
        self.device = torch.device(device) if device is not None else get_device()
        self.net = net.to(self.device).eval()
        self.attribute_names: List[str] = list(attribute_names)
        self.threshold = float(threshold)
        self.accessory_names: Dict[str, List[str]] = {k: list(v) for k, v in (accessory_names or {}).items()}
        self.meta: Dict[str, Any] = dict(meta or {})
        self.batch_size = int(batch_size)

    def __repr__(self) -> str:
        return (
            f"Oracle({len(self.attribute_names)} attributes, threshold={self.threshold:.3f}, device={self.device})"
        )

    def index(self, name: str) -> int:
        """Column of attribute ``name`` in :meth:`attribute_probabilities` (clear error for an unknown name)."""
        try:
            return self.attribute_names.index(name)
        except ValueError:
            raise KeyError(f"the oracle knows no attribute {name!r}; it knows: {', '.join(self.attribute_names)}") from None

    @torch.no_grad()
    def _run(self, images: Tensor, name: str = "images") -> Dict[str, Any]:
        check_image(images, name=name, tolerance=RANGE_TOLERANCE)
        outs: List[Dict[str, Any]] = []
        for chunk in images.split(self.batch_size):
            outs.append(self.net(chunk.to(self.device, torch.float32).clamp(0, 1)))
        return {
            "attributes": torch.cat([o["attributes"] for o in outs]),
            "embedding": torch.cat([o["embedding"] for o in outs]),
            "accessories": {k: torch.cat([o["accessories"][k] for o in outs]) for k in outs[0]["accessories"]},
        }

    def attribute_probabilities(self, images: Tensor) -> Tensor:
        """``(B, A)`` probabilities that each attribute is present (columns in :attr:`attribute_names` order)."""
        return torch.sigmoid(self._run(images)["attributes"])

    def predict_attributes(self, images: Tensor) -> Tensor:
        """``(B, A)`` bool: the attribute is present (probability > 0.5)."""
        return self.attribute_probabilities(images) > 0.5

    def predict_accessories(self, images: Tensor) -> Dict[str, List[str]]:
        """The predicted accessory type per image, e.g. ``{"glasses": ["none", "sunglasses", ...]}``."""
        acc = self._run(images)["accessories"]
        return {k: [self.accessory_names[k][int(i)] for i in v.argmax(1)] for k, v in acc.items()}

    def embed(self, images: Tensor) -> Tensor:
        """``(B, E)`` unit-length identity embeddings."""
        return self._run(images)["embedding"]

    def identity_score(self, a: Tensor, b: Tensor) -> Tensor:
        """``(B,)`` cosine similarity of the identity embeddings of ``a[i]`` and ``b[i]`` (1: identical)."""
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"a and b must hold the same number of images; got {a.shape[0]} and {b.shape[0]}")
        return (self.embed(a) * self.embed(b)).sum(1)

    def same_identity(self, a: Tensor, b: Tensor) -> Tensor:
        """``(B,)`` bool: ``a[i]`` and ``b[i]`` show the same person (cosine >= :attr:`threshold`)."""
        return self.identity_score(a, b) >= self.threshold

    def to(self, device: Union[str, torch.device]) -> "Oracle":
        """Move the oracle to ``device`` (returns self)."""
        self.device = torch.device(device)
        self.net.to(self.device)
        return self


def oracle_path(path: Union[str, Path, None] = None) -> Tuple[Path, Path]:
    """The weights file and its metadata: ``path`` (``.pt``; the ``.json`` beside it) or, by default, the registered
    ``"oracle"`` of :mod:`facekit.hub` (the facekit cache first, then the copy shipped in ``facekit/weights/``)."""
    if path is not None:
        pt = Path(path)
    else:
        from facekit import hub

        pt = next((p for p in hub.search_paths("oracle") if p.is_file()), WEIGHTS_DIR / "oracle.pt")
    return pt, pt.with_suffix(".json")


def load_oracle(path: Union[str, Path, None] = None, device: Union[str, torch.device, None] = None) -> Oracle:
    """Load the oracle: a plain state dict (``oracle.pt``, read with ``weights_only=True``) + ``oracle.json``.

    Args:
        path: the ``.pt`` file; default: ``facekit/weights/oracle.pt`` shipped with facekit.
        device: where to run (default :func:`facekit.get_device`).

    Returns:
        an :class:`Oracle`.

    Raises:
        OracleNotFoundError: a file is missing (the message says how to make it).
        facekit.hub.WeightsHashError: the default file (no ``path``) is not the registered ``oracle.pt``.
        facekit.hub.WeightsFormatError: the ``.pt`` is empty, truncated, not a PyTorch file or holds arbitrary
            Python objects (read by :func:`facekit.hub.read_weights`, as every weights file).
        facekit.hub.WeightsKeysError: its keys or shapes do not fit the network ``oracle.json`` describes.
    """
    pt, meta_file = oracle_path(path)
    for f in (pt, meta_file):
        if not f.exists():
            raise OracleNotFoundError(
                f"oracle file {f} not found. The oracle ships with facekit in facekit/weights/; re-create it with "
                "`python scripts/train_oracle.py` (about 30 minutes on a CPU)."
            )
    from facekit import hub

    if path is None:  # the registered file: check it is the one its metadata describes
        hub.verify("oracle", pt)
    meta = json.loads(meta_file.read_text())
    cfg = meta["config"]
    net = OracleNet(
        num_attributes=cfg["num_attributes"],
        num_identities=0,
        accessories=cfg.get("accessories"),
        widths=cfg["widths"],
        embedding_dim=cfg["embedding_dim"],
        image_size=cfg["image_size"],
    )
    state = hub.read_weights(pt, name="oracle" if path is None else None)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise hub.WeightsFormatError(f"{pt} does not hold a state dict (a mapping of parameter names to tensors)")
    hub.check_state_dict(state, net.state_dict(), file=pt, what=f"the oracle network described by {meta_file}")
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}  # a float16 copy loads too
    net.load_state_dict(state)
    return Oracle(
        net,
        meta["attributes"],
        meta["threshold"],
        accessory_names=meta.get("accessory_names"),
        meta=meta,
        device=device,
    )
