"""kazllm.hardware: one table of GPUs, read by the trainer's MFU, `kazllm plan` and the model card."""

import pytest

from kazllm.hardware import GPUS, GPUS_PER_NODE, gpu_kind


@pytest.mark.parametrize(
    ("device_name", "kind"),
    [
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA H100 NVL", "h100-nvl"),
        ("NVIDIA GH200 480GB", "gh200"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA A100-SXM4-80GB", "a100-80gb"),
        ("NVIDIA A100 80GB PCIe", "a100-pcie-80gb"),
        ("NVIDIA A100-SXM4-40GB", "a100"),
        ("Tesla V100-SXM2-32GB", None),
    ],
)
def test_a_cuda_device_name_finds_its_gpu_before_any_shorter_name_it_contains(device_name, kind):
    assert gpu_kind(device_name) == kind


def test_peaks_are_the_dense_bf16_figures_not_the_sparse_headlines():
    assert GPUS["h100-sxm"].peak_bf16_tflops == 989  # the datasheet's 1,979 is with 2:4 sparsity
    assert GPUS["h100-pcie"].peak_bf16_tflops == 756 and GPUS["a100"].peak_bf16_tflops == 312


def test_only_gpus_in_a_dgx_carry_a_system_power_per_gpu():
    assert GPUS["h100-sxm"].kw_per_gpu == pytest.approx(10.2 / GPUS_PER_NODE)
    assert GPUS["a100-80gb"].kw_per_gpu == pytest.approx(6.5 / GPUS_PER_NODE)
    assert GPUS["h100-pcie"].kw_per_gpu is None and GPUS["gh200"].kw_per_gpu is None
