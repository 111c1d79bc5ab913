"""Evaluation: the same scores, on the same data, for every method of the course.

* :func:`score_edits`: one row of figures for a batch of attribute edits: attribute success, identity kept,
  other attributes preserved (judged by the SynthFaces :class:`Oracle`, or dlib's embedding for real photos with
  ``identity="dlib"``), and L1 / PSNR / SSIM against exact counterfactuals, inside and outside the attribute mask;
* :func:`judges_for`: the honest judges for a dataset (the oracle on SynthFaces, dlib's ResNet for identity on
  real photos; the oracle never judges real photos: :class:`RealPhotoError`);
* :class:`Oracle` / :func:`load_oracle`: the independent judge, a small ResNet trained by
  ``scripts/train_oracle.py`` and shipped in ``facekit/weights/oracle.pt``;
* :func:`recall_at_k`: face retrieval as in *Learning to See another You* section 4.1.2;
* :func:`roc_auc`, :func:`eer_threshold`: face verification figures (how the oracle's threshold is set);
* :func:`psnr`, :func:`ssim`, :func:`mse`, :func:`l1`: pixel metrics (optionally inside a mask);
* :func:`seconds_per_image`: runtime after warm-up on the current device;
* :class:`ResultsTable` / :func:`record`: the shared table of results, one row per method x attribute, that
  ``python -m facekit.results`` prints.

Example:
    >>> import torch
    >>> from facekit.eval import psnr, recall_at_k
    >>> round(float(psnr(torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.1))), 1)
    20.0
"""

from facekit.eval.judges import Judges, RealPhotoError, is_real_data, judges_for
from facekit.eval.metrics import as_mask, check_pair, l1, mse, psnr, ssim
from facekit.eval.oracle import Oracle, OracleNet, OracleNotFoundError, load_oracle, oracle_path
from facekit.eval.retrieval import pairwise_distances, recall_at_k, retrieve
from facekit.eval.runtime import seconds_per_image
from facekit.eval.scores import DLIB_SAME_PERSON_THRESHOLD, DlibIdentity, IdentityJudge, score_edits, target_matrix
from facekit.eval.verification import eer_threshold, roc_auc, roc_curve, verification_pairs
from facekit.eval.table import COLUMNS, ResultsTable, default_results_path, load_results, record

__all__ = [
    # metrics
    "mse",
    "l1",
    "psnr",
    "ssim",
    "as_mask",
    "check_pair",
    # retrieval
    "pairwise_distances",
    "retrieve",
    "recall_at_k",
    # verification
    "verification_pairs",
    "roc_curve",
    "roc_auc",
    "eer_threshold",
    # runtime
    "seconds_per_image",
    # the judge
    "Oracle",
    "OracleNet",
    "OracleNotFoundError",
    "load_oracle",
    "oracle_path",
    "DlibIdentity",
    "IdentityJudge",
    "DLIB_SAME_PERSON_THRESHOLD",
    # which judge for which data
    "Judges",
    "RealPhotoError",
    "is_real_data",
    "judges_for",
    # scoring
    "score_edits",
    "target_matrix",
    # the results table
    "ResultsTable",
    "COLUMNS",
    "default_results_path",
    "load_results",
    "record",
]
