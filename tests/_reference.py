"""Independent references: plain loops of the equations in docs/method.md, element by element.

Nothing here imports mfp_plugin. Spikes use the primitive-function trick
(Heaviside forward, d/dx of g backward) so the gradients are autograd's,
not ours.
"""
import math

import torch


def q_b(u, theta, bits):
    """docs/method.md: Q_b(u) = D * clamp(round(u/D), -2^(b-1), 2^(b-1)-1), D = theta/(2^(b-1)-1); round half up."""
    delta = theta / (2 ** (bits - 1) - 1)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    codes = torch.clamp(torch.floor(u.detach() / delta + 0.5), lo, hi)
    clamped = torch.clamp(u, lo * delta, hi * delta)
    return clamped + (codes * delta - clamped).detach()


def atan_primitive(x, alpha=2.0):
    """g(x) = arctan(pi/2 alpha x)/pi + 1/2, whose derivative is SpikingJelly's ATan surrogate."""
    return torch.atan(math.pi / 2 * alpha * x) / math.pi + 0.5


def heaviside_with(x, primitive=atan_primitive, forward=None):
    fwd = (x >= 0).to(x.dtype) if forward is None else forward
    g = primitive(x)
    return fwd + (g - g.detach())


def mf_reference(x, beta, theta=1.0, bits=None, kernel=None, primitive=atan_primitive):
    """The memory-free neuron of docs/method.md as a double loop: H[t] = sum_{i<=t} K[t,i] X[i]; H~ = Q_b(H); S = [H~ >= theta].

    The surrogate (the derivative of ``primitive``) is centred at the firing point
    theta' = theta - D/2 (theta unquantized). Returns (spikes, h_tilde, h).
    """
    T = x.shape[0]
    hs, hts, ss = [], [], []
    for t in range(T):
        h = torch.zeros_like(x[0])
        for i in range(t + 1):
            k = kernel[t, i] if kernel is not None else beta ** (t - i)
            h = h + k * x[i]
        if bits is None:
            ht, theta_fire = h, theta
            fwd = (h >= theta).to(x.dtype)
        else:
            ht = q_b(h, theta, bits)
            theta_fire = theta - theta / (2 ** (bits - 1) - 1) / 2
            fwd = (ht.detach() >= theta).to(x.dtype)
        ss.append(heaviside_with(h - theta_fire, primitive, forward=fwd))
        hs.append(h)
        hts.append(ht)
    return torch.stack(ss), torch.stack(hts), torch.stack(hs)


def qlif_reference(x, beta, theta=1.0, bits=2, v_reset=0.0):
    """The vanilla QSNN neuron of docs/method.md (Baseline) as a loop. Returns (spikes, u_hat_seq, h_seq)."""
    u_hat = torch.zeros_like(x[0])
    ss, us, hs = [], [], []
    for t in range(x.shape[0]):
        h = beta * u_hat + x[t]
        s = heaviside_with(h - theta)
        u = h - theta * s if v_reset is None else h * (1 - s) + v_reset * s
        u_hat = q_b(u, theta, bits)
        ss.append(s)
        us.append(u_hat)
        hs.append(h)
    return torch.stack(ss), torch.stack(us), torch.stack(hs)
