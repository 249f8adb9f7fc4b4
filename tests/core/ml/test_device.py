"""Device choice: cuda when present, bf16 only on hardware that has it, threads = cores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.ml import device

CPUINFO = "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 {extra}\n\nprocessor\t: 1\n"


def _cpuinfo(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=extra), encoding="utf-8")
    return path


@pytest.mark.parametrize(("extra", "expected"), [("avx512f", False), ("avx512f avx512_bf16", True),
                                                  ("amx_bf16 amx_tile", True), ("", False)])
def test_cpu_bf16_follows_the_flags(tmp_path: Path, extra: str, expected: bool) -> None:
    flags = device.cpu_flags(_cpuinfo(tmp_path, extra))
    assert "avx2" in flags
    assert device.cpu_supports_bf16(flags) is expected


def test_missing_cpuinfo_means_no_flags(tmp_path: Path) -> None:
    assert device.cpu_flags(tmp_path / "absent") == frozenset()


def test_cpu_choice_uses_every_core_and_fp32_without_bf16_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2"}))
    before = torch.get_num_threads()
    try:
        choice = device.choose()
        assert (choice.device, choice.bf16, choice.dtype) == ("cpu", False, torch.float32)
        assert choice.threads == device.core_count() == torch.get_num_threads()
        assert choice.name == f"cpu ({choice.threads} threads, fp32)"
    finally:
        torch.set_num_threads(before)


def test_cpu_with_bf16_flags_turns_bf16_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert device.bf16_supported() is True
    assert device.bf16_supported("cpu") is True


def test_gpu_is_chosen_and_bf16_follows_its_capability(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert device.choose_device() == "cuda"
    assert device.bf16_supported() is False  # an old GPU: the CPU's flags do not matter
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert device.bf16_supported("cuda") is True


def test_this_machine_gets_a_consistent_choice() -> None:
    before = torch.get_num_threads()
    try:
        choice = device.choose()
    finally:
        torch.set_num_threads(before)
    if choice.device == "cpu":
        assert choice.bf16 == device.cpu_supports_bf16()
    assert choice.dtype == (torch.bfloat16 if choice.bf16 else torch.float32)


def _mac(monkeypatch: pytest.MonkeyPatch, *, macos_14: bool) -> None:
    """A Mac as torch reports it: no CUDA, MPS built and available, macOS 14+ or older."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: macos_14)


@pytest.mark.parametrize(("macos_14", "precision"), [(True, "bf16"), (False, "fp32")])
def test_an_apple_gpu_is_chosen_with_the_precision_its_macos_supports(
        monkeypatch: pytest.MonkeyPatch, macos_14: bool, precision: str) -> None:
    _mac(monkeypatch, macos_14=macos_14)
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512_bf16"}))  # irrelevant on MPS
    before = torch.get_num_threads()
    try:
        choice = device.choose()
    finally:
        torch.set_num_threads(before)
    assert (choice.device, choice.bf16) == ("mps", macos_14)
    assert choice.name == f"mps (Apple GPU, {precision})"
    assert choice.dtype == (torch.bfloat16 if macos_14 else torch.float32)


def test_cuda_wins_over_mps_and_a_missing_mps_means_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _mac(monkeypatch, macos_14=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.choose_device() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device.choose_device() == "cpu"


def test_a_missing_mps_operation_is_recognised_and_explained() -> None:
    missing = NotImplementedError("The operator 'aten::_ctc_loss' is not currently implemented for the "
                                  "MPS device. If you want this op to be added ...")
    assert device.is_missing_mps_operation(missing)
    assert not device.is_missing_mps_operation(RuntimeError("CUDA out of memory"))
    sentence = device.mps_fallback_sentence(missing)
    assert sentence.startswith("The Apple GPU (MPS) lacks an operation") and "on the CPU instead" in sentence
    assert "aten::_ctc_loss" in sentence


def test_the_machine_line_names_cores_and_bf16_as_the_flags_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2"}))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = device.describe_machine()
    assert f"{device.core_count()} cores" in line and line.endswith("bf16 in hardware: False")
