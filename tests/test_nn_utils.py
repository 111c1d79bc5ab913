"""count_parameters lives in one place, facekit.nn (issue 18, item 4); its old import paths keep working."""

from __future__ import annotations

import ast
from pathlib import Path

from torch import nn

import facekit.nn
import facekit.nn.diat
import facekit.nn.eye2face
from facekit.nn import EyeToFace, count_parameters

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


def test_count_parameters_is_one_function_in_facekit_nn() -> None:
    assert count_parameters.__module__ == "facekit.nn._utils"
    assert facekit.nn.eye2face.count_parameters is count_parameters  # the old path
    assert facekit.nn.diat.count_parameters is count_parameters
    assert "count_parameters" in facekit.nn.__all__
    lin = nn.Linear(3, 2)
    lin.bias.requires_grad_(False)
    assert count_parameters(lin) == 8 and count_parameters(lin, trainable_only=True) == 6
    assert count_parameters(EyeToFace()) == 1_315_155


def test_chapter_05_takes_count_parameters_from_facekit_nn() -> None:
    for suffix in (".py", ".ipynb"):
        text = (CHAPTERS / f"05_see_another_you{suffix}").read_text()
        assert "from facekit.nn.eye2face import count_parameters" not in text
    tree = ast.parse((CHAPTERS / "05_see_another_you.py").read_text())
    sources = {a.name: node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for a in node.names}
    assert sources["count_parameters"] == "facekit.nn"
