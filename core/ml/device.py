"""Where models run: the device, whether bf16 is worth using, and how many CPU threads to use.

The device is CUDA when torch sees a GPU, else Apple's GPU (MPS) when torch reports it, else the
CPU. bf16 is only switched on where the hardware computes it natively: on a GPU when
``torch.cuda.is_bf16_supported()``, on MPS from macOS 14 (what transformers and accelerate
accept), on a CPU only when /proc/cpuinfo lists ``avx512_bf16`` or ``amx_bf16`` (elsewhere bf16
on CPU is emulated and slower than fp32). On MPS, operations it lacks run on the CPU
(``PYTORCH_ENABLE_MPS_FALLBACK``); a run that still meets one is trained again on the CPU, with
`mps_fallback_sentence` in its log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class DeviceChoice:
    """The device a model should run on and the precision it may use there."""

    device: str          # "cuda", "mps" or "cpu"
    bf16: bool           # True only where the hardware supports bf16 natively
    threads: int         # CPU threads torch uses
    name: str            # readable, e.g. "cpu (2 threads, fp32)"

    @property
    def dtype(self) -> torch.dtype:
        """The dtype for inference: bf16 where supported, else fp32."""
        return torch.bfloat16 if self.bf16 else torch.float32


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags Linux reports (empty where /proc/cpuinfo is missing)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_supports_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU has native bf16 instructions (avx512_bf16 or amx_bf16)."""
    return bool((cpu_flags() if flags is None else flags) & CPU_BF16_FLAGS)


def core_count() -> int:
    """CPU cores this process may use (respects taskset / container CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def mps_available() -> bool:
    """Whether torch reports Apple's GPU (Metal Performance Shaders) as usable."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available() and backend.is_built())


def choose_device() -> str:
    """'cuda' when a GPU is usable, else 'mps' on an Apple GPU, else 'cpu'."""
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if mps_available() else "cpu"


def bf16_supported(device: str | None = None) -> bool:
    """Whether bf16 runs natively on the device (GPU capability, macOS version or CPU flags)."""
    device = device or choose_device()
    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device == "mps":
        return bool(mps_available() and torch.backends.mps.is_macos_or_newer(14, 0))
    return cpu_supports_bf16()


def is_missing_mps_operation(exc: BaseException) -> bool:
    """Whether an error says MPS has no kernel for an operation (torch raises NotImplementedError)."""
    text = str(exc)
    return isinstance(exc, NotImplementedError | RuntimeError) and "MPS" in text and (
        "not currently implemented" in text or "not supported" in text or "not implemented" in text)


def mps_fallback_sentence(exc: BaseException) -> str:
    """The log line of a run that leaves the Apple GPU for the CPU."""
    first = (str(exc).strip().splitlines() or [""])[0][:160]
    return (f"The Apple GPU (MPS) lacks an operation this model needs ({first}); "
            "training on the CPU instead, which is slower.")


def configure_threads(threads: int | None = None) -> int:
    """Let torch use every available core (or `threads`) and return the number set."""
    threads = threads or core_count()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


@lru_cache(maxsize=1)
def _gpu_name() -> str:
    return torch.cuda.get_device_name(0)


def choose(device: str | None = None) -> DeviceChoice:
    """Pick the device (or use `device`), precision and threads here (and apply the thread count)."""
    device = device or choose_device()
    bf16 = bf16_supported(device)
    threads = configure_threads()
    precision = "bf16" if bf16 else "fp32"
    if device == "cuda":
        name = f"cuda ({_gpu_name()}, {precision})"
    elif device == "mps":
        name = f"mps (Apple GPU, {precision})"
    else:
        name = f"cpu ({threads} threads, {precision})"
    return DeviceChoice(device=device, bf16=bf16, threads=threads, name=name)


def machine_facts() -> dict[str, object]:
    """What the benchmarks print beside their figures: the CPU's name, its cores, whether it computes
    bf16, and the GPU when there is one (machines here differ, so every figure names its machine)."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines() if cpuinfo.is_file() else []
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    return {"cpu": name or os.uname().machine, "cores": core_count(), "bf16": cpu_supports_bf16(),
            "gpu": _gpu_name() if torch.cuda.is_available() else ""}


def describe_machine() -> str:
    """One line of machine_facts, e.g. 'AMD EPYC, 2 cores, bf16 in hardware: True'."""
    facts = machine_facts()
    gpu = f", GPU {facts['gpu']}" if facts["gpu"] else ""
    return f"{facts['cpu']}, {facts['cores']} cores, bf16 in hardware: {facts['bf16']}{gpu}"
