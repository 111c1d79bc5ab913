"""facekit.config: profile, data, device, seeding, cache directory, about()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import facekit
from facekit import config


@pytest.mark.parametrize("value", ["smoke", "cpu", "gpu", "CPU", " gpu "])
def test_valid_profiles(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FACEKIT_PROFILE", value)
    assert config.get_profile() == value.strip().lower()


def test_default_profile_follows_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACEKIT_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.get_profile() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_profile() == "gpu"


def test_bad_profile_lists_valid_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_PROFILE", "laptop")
    with pytest.raises(config.ConfigError) as err:
        config.get_profile()
    message = str(err.value)
    assert "FACEKIT_PROFILE='laptop'" in message
    assert "smoke, cpu, gpu" in message and "\n" not in message


def test_bad_data_lists_valid_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_DATA", "imagenet")
    with pytest.raises(config.ConfigError, match="synth, celeba, lfw"):
        config.get_data()
    monkeypatch.delenv("FACEKIT_DATA")
    assert config.get_data() == "synth"


def test_bad_profile_from_a_fresh_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a user sees: the import works, the first use fails with one line naming the valid values."""
    monkeypatch.setenv("FACEKIT_PROFILE", "fast")
    out = subprocess.run(
        [sys.executable, "-c", "import facekit; facekit.get_profile()"], capture_output=True, text=True
    )
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1] == (
        "facekit.config.ConfigError: FACEKIT_PROFILE='fast' is not valid; use one of: smoke, cpu, gpu"
    )


def test_by_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_PROFILE", "smoke")
    assert config.by_profile(smoke=1, cpu=2, gpu=3) == 1
    assert config.by_profile(smoke=1, cpu=2, gpu=3, profile="gpu") == 3
    with pytest.raises(config.ConfigError, match="smoke, cpu, gpu"):
        config.by_profile(smoke=1, cpu=2, gpu=3, profile="tpu")


def test_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACEKIT_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.get_device() == torch.device("cpu")
    monkeypatch.setenv("FACEKIT_DEVICE", "not-a-device")
    with pytest.raises(config.ConfigError, match="FACEKIT_DEVICE"):
        config.get_device()


def test_seed_everything_is_deterministic() -> None:
    g1 = config.seed_everything(123)
    a = (torch.rand(4), np.random.rand(4), torch.rand(2, generator=g1))
    g2 = config.seed_everything(123)
    b = (torch.rand(4), np.random.rand(4), torch.rand(2, generator=g2))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])
    with pytest.raises(ValueError, match="non-negative int"):
        config.seed_everything(-1)


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FACEKIT_CACHE")
    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path / "home"))
    assert config.cache_dir("weights") == tmp_path / "home" / "weights"
    assert (tmp_path / "home" / "weights").is_dir()
    monkeypatch.setenv("FACEKIT_CACHE", str(tmp_path / "cache"))  # writes elsewhere, data still under FACEKIT_HOME
    assert config.cache_dir("results") == tmp_path / "cache" / "results"
    assert config.cache_dir("data", "celeba", create=False) == tmp_path / "home" / "data" / "celeba"
    monkeypatch.delenv("FACEKIT_CACHE")
    monkeypatch.delenv("FACEKIT_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir(create=False) == tmp_path / "xdg" / "facekit"
    assert not (tmp_path / "xdg").exists()


def test_about_prints_and_returns(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEKIT_PROFILE", "smoke")
    info = facekit.about()
    printed = capsys.readouterr().out
    for key in ("facekit", "torch", "torchvision", "cv2", "profile", "device", "data", "cache"):
        assert key in info and key in printed
    assert info["profile"] == "smoke" and info["facekit"] == facekit.__version__


def test_device_that_this_machine_lacks_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("FACEKIT_DEVICE", "cuda")
    with pytest.raises(config.ConfigError, match="sees no CUDA GPU.*unset FACEKIT_DEVICE"):
        config.get_device()
    info = facekit.about()  # about() reports the bad setting instead of crashing
    assert info["device"].startswith("INVALID: FACEKIT_DEVICE='cuda'")
    assert "INVALID" in capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("FACEKIT_DEVICE", "cuda:3")
    with pytest.raises(config.ConfigError, match="has 1 CUDA device"):
        config.get_device()
    monkeypatch.setenv("FACEKIT_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")


def test_unwritable_facekit_home_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FACEKIT_CACHE")
    a_file = tmp_path / "home.txt"
    a_file.write_text("not a folder")
    monkeypatch.setenv("FACEKIT_HOME", str(a_file))
    with pytest.raises(config.ConfigError, match="cannot create the folder .*home.txt/weights under FACEKIT_HOME"):
        config.cache_dir("weights")
    assert config.cache_dir("data", create=False) == a_file / "data"  # reading paths needs no folder
    def refuse(self, *args, **kwargs):  # a read-only mount (as root a chmod would not stop the write)
        raise PermissionError(30, "Read-only file system", str(self))

    monkeypatch.setenv("FACEKIT_HOME", str(tmp_path / "ro"))
    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(config.ConfigError, match="Read-only file system. Set FACEKIT_CACHE .* to a folder you can"):
        config.cache_dir("results")


def test_read_only_facekit_home_reads_data_and_writes_elsewhere(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """A read-only data folder as FACEKIT_HOME (../shared/realfaces): results and caches go to the default folder."""
    home = tmp_path / "ro"
    (home / "data").mkdir(parents=True)
    real_mkdir = Path.mkdir

    def refuse_under_home(self, *args, **kwargs):  # a read-only mount (as root a chmod would not stop the write)
        if str(self).startswith(str(home)):
            raise PermissionError(30, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.delenv("FACEKIT_CACHE")
    monkeypatch.setenv("FACEKIT_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(Path, "mkdir", refuse_under_home)
    monkeypatch.setattr(config, "_warned_fallback", set())
    with pytest.warns(UserWarning, match="cannot be written: facekit reads data from it and writes"):
        assert config.cache_dir("results") == tmp_path / "xdg" / "facekit" / "results"
    assert config.cache_dir("data", create=False) == home / "data"
    assert not any(p.name == "results" for p in home.iterdir())
