"""model_size: quantized weights at their code width, everything else at its dtype width."""
import pytest
import torch
from torch import nn

from mfp_plugin.quant import QuantConv2d, QuantLinear, model_size


def test_hand_computed_mixed_model():
    net = nn.Sequential(
        QuantConv2d(1, 4, 3, bias=False, weight_bits=8),   # 36 weights x 8, 1 LSQ step
        nn.BatchNorm2d(4),                                  # weight, bias, mean, var: 16 floats
        QuantConv2d(4, 4, 3, bias=False, weight_bits=1),   # 144 weights x 1
        QuantLinear(4, 2, weight_bits="ternary"),          # 8 weights x 2, bias 2
        nn.Linear(2, 2),                                    # float: 4 + 2 floats
    )
    r = model_size(net)
    assert r.weight_bits == 36 * 8 + 144 * 1 + 8 * 2
    # every float tensor besides the quantized weights, counted independently of model_size
    floats = sum(t.numel() * 32 for n, t in list(net.named_parameters()) + list(net.named_buffers())
                 if t.is_floating_point() and n not in ("0.weight", "2.weight", "3.weight"))
    assert r.other_bits == floats
    assert 16 * 32 + 6 * 32 <= r.other_bits  # BN and the float linear at least
    assert r.total_bytes == (r.weight_bits + r.other_bits) / 8
    assert r.total_kib == pytest.approx(r.total_bytes / 1024)
    assert "1.num_batches_tracked" not in r.per_tensor and "0.weight" in r.per_tensor


def test_shared_tensors_count_once_and_bad_input():
    fc = nn.Linear(3, 3, bias=False)
    net = nn.Sequential(fc, fc)
    assert model_size(net).other_bits == 9 * 32
    with pytest.raises(TypeError, match="nn.Module"):
        model_size("model")
