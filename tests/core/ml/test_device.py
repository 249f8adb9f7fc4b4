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
