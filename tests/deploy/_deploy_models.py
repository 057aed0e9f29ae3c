"""Small models for the deploy tests (no model_zoo internals).

``exact_model()``: every weight, scale, BN statistic, bias and threshold is a
short dyadic fraction, beta = 1/2 and BN eps = 0 with power-of-four
variances, so the float model's arithmetic is exact and its spikes are the
true ones: the integer engine must match them bit for bit.
"""
import torch
from torch import nn

import mfp_plugin as mfp


class TimeSeq(nn.Sequential):
    """Multi-step chain: per-sample layers on merged [T*B, ...], neurons on [T, B, ...]."""

    def forward(self, x):
        T = x.shape[0]
        for m in self:
            if isinstance(m, (mfp.MFNode, mfp.QLIFNode)):
                x = m(x)
            else:
                x = m(x.flatten(0, 1)).unflatten(0, (T, -1))
        return x


def set_codes(layer, codes, scale):
    """Give an LSQ layer exact integer codes and step ``scale``."""
    with torch.no_grad():
        layer.weight.copy_(codes.float() * scale)
        layer.weight_quantizer.scale.fill_(scale)
        layer.weight_quantizer.initialized.fill_(True)


def set_bn(bn, gamma, beta, mean, var):
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma))
        bn.bias.copy_(torch.tensor(beta))
        bn.running_mean.copy_(torch.tensor(mean))
        bn.running_var.copy_(torch.tensor(var))


def _dyadic(shape, lo, hi, denom, g):
    return torch.randint(lo, hi + 1, shape, generator=g).float() / denom


def exact_model(seed=0):
    g = torch.Generator().manual_seed(seed)
    conv1 = mfp.QuantConv2d(2, 4, 3, padding=1, bias=True, weight_quantizer=mfp.LSQQuantizer(4))
    set_codes(conv1, torch.randint(-8, 8, (4, 2, 3, 3), generator=g), 0.25)
    with torch.no_grad():
        conv1.bias.copy_(_dyadic((4,), -4, 4, 8, g))
    bn1 = nn.BatchNorm2d(4, eps=0.0)
    # channel 1: negative gamma (comparison flips); channel 2: gamma = 0 with a shift above theta' (always fires)
    set_bn(bn1, [1.0, -0.5, 0.0, 2.0], [0.25, 0.5, 0.75, -0.125], [0.5, -0.25, 0.0, 1.0], [4.0, 1.0, 16.0, 0.25])
    conv2 = mfp.QuantConv2d(4, 4, 3, padding=1, bias=False, weight_bits=2)
    set_codes(conv2, torch.randint(-2, 2, (4, 4, 3, 3), generator=g), 0.5)
    bn2 = nn.BatchNorm2d(4, eps=0.0)
    set_bn(bn2, [0.5, -1.0, 1.0, -0.25], [0.0, 0.25, -0.5, 0.125], [0.25, 0.0, 0.5, -0.5], [1.0, 4.0, 1.0, 1.0])
    fc1 = mfp.QuantLinear(16, 6, weight_quantizer=mfp.LSQQuantizer(3))
    set_codes(fc1, torch.randint(-4, 4, (6, 16), generator=g), 0.125)
    with torch.no_grad():
        fc1.bias.copy_(_dyadic((6,), -4, 4, 16, g))
    bn3 = nn.BatchNorm1d(6, eps=0.0)
    # channel 5: gamma = 0 with a shift below theta' (never fires)
    set_bn(bn3, [1.0, -1.0, 0.5, -2.0, 1.0, 0.0], [0.0] * 5 + [0.25], [0.0] * 6, [1.0] * 6)
    fc2 = mfp.QuantLinear(6, 3, weight_bits=8)
    set_codes(fc2, torch.randint(-100, 100, (3, 6), generator=g), 2.0 ** -5)
    with torch.no_grad():
        fc2.bias.copy_(_dyadic((3,), -8, 8, 32, g))
    return TimeSeq(conv1, bn1, mfp.MFNode(membrane_bits=2), nn.MaxPool2d(2),
                   conv2, bn2, mfp.MFNode(v_threshold=0.5), nn.AvgPool2d(2), nn.Flatten(),
                   fc1, bn3, mfp.MFNode(v_threshold=1.5, membrane_bits=3), fc2).eval()


def exact_frames(T=4, B=3, seed=1):
    """Dyadic analog frames [T, B, 2, 8, 8] (exact at 16 input fraction bits)."""
    g = torch.Generator().manual_seed(seed)
    return _dyadic((T, B, 2, 8, 8), -32, 32, 16, g)


def random_model(seed=0, neg_gamma=True):
    """A float-valued model (random weights, BN statistics with negative gammas): not exact."""
    torch.manual_seed(seed)
    m = TimeSeq(mfp.QuantConv2d(2, 8, 3, padding=1, weight_bits=8), nn.BatchNorm2d(8), mfp.MFNode(membrane_bits=2),
                nn.MaxPool2d(2), mfp.QuantConv2d(8, 8, 3, padding=1, weight_bits=2), nn.BatchNorm2d(8),
                mfp.MFNode(), nn.Flatten(), mfp.QuantLinear(8 * 4 * 4, 5, weight_bits=8))
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.2, 2.0)
                mod.weight.uniform_(0.5, 2.0)
                if neg_gamma:
                    mod.weight[::2] *= -1
                mod.bias.uniform_(-0.5, 1.0)
        m(torch.randn(4, 2, 2, 8, 8))  # initialise the LSQ steps
    return m.eval()
