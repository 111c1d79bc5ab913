"""facekit.methods.inversion: feature inversion reduces the feature loss and reports the paper's squared error."""

from __future__ import annotations

import pytest
import torch

from facekit.methods.inversion import invert_features, squared_error_255
from facekit import hub
from facekit.data import image_to_tensor, render
from facekit.nn import SynthFaceNet


def test_inversion_lowers_the_loss_and_moves_towards_the_reference() -> None:
    torch.manual_seed(0)
    net = hub.pretrained("synthface_net")  # the shipped network (a random one can leave a grey start dead)
    ref = torch.stack([image_to_tensor(render(i, size=64)["image"]) for i in (1, 2)])  # (2, 3, 64, 64)
    x, history = invert_features(net, "relu2_1", ref, steps=40)
    assert x.shape == ref.shape and 0.0 <= x.min() and x.max() <= 1.0
    assert history[-1] < 0.5 * history[0]
    blank = torch.full_like(ref, 0.5)
    assert (squared_error_255(x, ref) < squared_error_255(blank, ref)).all()


def test_squared_error_255_and_errors() -> None:
    a, b = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 1.0)
    assert squared_error_255(a, b).item() == pytest.approx(12 * 255.0**2)
    with pytest.raises(ValueError, match="same shape"):
        squared_error_255(a, torch.zeros(1, 3, 2, 3))
    with pytest.raises(ValueError, match="steps"):
        invert_features(SynthFaceNet(input_size=32), 3, a, steps=0)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        invert_features(SynthFaceNet(input_size=32), 3, torch.zeros(3, 8, 8), steps=1)
