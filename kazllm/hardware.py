"""The GPUs kazllm knows: peak dense bf16 TFLOP/s, memory and system power per GPU, in one table.

The trainer's MFU (kazllm.engine.peak_flops), `kazllm plan` (time and energy) and the model card's
compute section all read GPUS, so a GPU added here is known to all three.

Sources: NVIDIA's datasheets (H100 SXM/PCIe/NVL, H200, GH200, A100, L40S, DGX B200), dense figures:
the datasheets' headline bf16 numbers are "with sparsity" (2:4), twice the dense ones (H100 SXM: 1,979
with sparsity -> 989 dense). Power is the DGX system's maximum divided by its 8 GPUs (DGX H100 / H200
10.2 kW, DGX A100 6.5 kW): an upper bound, since a node rarely draws its maximum for long.
"""

from __future__ import annotations

from dataclasses import dataclass

GPUS_PER_NODE = 8
"""GPUs in a DGX / HGX node: the divisor of the system power below and of a node count in `kazllm plan`."""


@dataclass(frozen=True)
class GpuSpec:
    device_names: tuple[str, ...]
    """Substrings of torch.cuda.get_device_name() that mean this GPU ("NVIDIA H100 80GB HBM3": "H100")."""
    peak_bf16_tflops: float
    """Peak dense bf16 tensor-core TFLOP/s (without sparsity)."""
    memory_gb: float
    """Memory per GPU, GB (vendor GB, as the datasheet gives it)."""
    kw_per_gpu: float | None = None
    """System power per GPU at full load, kW, where a DGX figure describes the GPU; None for PCIe and NVL
    cards, GH200 and the A100s outside a DGX A100 80 GB, which draw other power: no energy estimate."""


GPUS: dict[str, GpuSpec] = {
    # Matched in this order (gpu_kind), so a name comes before any shorter name it contains:
    # "GH200" before "H200", "H100 PCIe" and "H100 NVL" before "H100", the 80 GB A100s before "A100".
    "gh200": GpuSpec(("GH200",), 989.0, 96.0),
    "h100-pcie": GpuSpec(("H100 PCIe",), 756.0, 80.0),
    "h100-nvl": GpuSpec(("H100 NVL",), 835.0, 94.0),
    "h100-sxm": GpuSpec(("H100",), 989.0, 80.0, 10.2 / GPUS_PER_NODE),
    "h200": GpuSpec(("H200",), 989.0, 141.0, 10.2 / GPUS_PER_NODE),
    "h800": GpuSpec(("H800",), 989.0, 80.0),
    "b200": GpuSpec(("B200",), 2250.0, 180.0),
    "a100-80gb": GpuSpec(("A100-SXM4-80GB", "A100-SXM-80GB"), 312.0, 80.0, 6.5 / GPUS_PER_NODE),
    "a100-pcie-80gb": GpuSpec(("A100 80GB PCIe",), 312.0, 80.0),
    "a100": GpuSpec(("A100",), 312.0, 40.0),
    "l40s": GpuSpec(("L40S",), 362.0, 48.0),
}


def gpu_kind(device_name: str) -> str | None:
    """The GPUS key of a CUDA device name (the first entry one of whose names it contains), or None."""
    matches = (kind for kind, spec in GPUS.items() if any(name in device_name for name in spec.device_names))
    return next(matches, None)
