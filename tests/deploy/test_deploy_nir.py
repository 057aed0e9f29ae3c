"""NIR export: write, read back with nir.read, check the graph and run it with a plain interpreter."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from _deploy_models import exact_frames, exact_model
from mfp_plugin import deploy

nir = pytest.importorskip("nir")


def _run_nir(graph, x_seq):
    """A plain interpreter of a chain-shaped NIR graph, forward Euler with the graph's dt."""
    dt = float(graph.metadata["dt"])
    order, nxt = ["input"], dict(graph.edges)
    while order[-1] in nxt:
        order.append(nxt[order[-1]])
    state, outs, spikes = {}, [], {}
    for t in range(x_seq.shape[0]):
        h = x_seq[t].double()
        for name in order[1:]:
            n = graph.nodes[name]
            kind = type(n).__name__
            if kind == "Conv2d":
                h = F.conv2d(h, torch.from_numpy(n.weight).double(), torch.from_numpy(n.bias).double(),
                             tuple(n.stride), tuple(n.padding), tuple(n.dilation), int(n.groups))
            elif kind == "Affine":
                h = h @ torch.from_numpy(n.weight).double().T + torch.from_numpy(n.bias).double()
            elif kind == "Scale":
                h = h * torch.from_numpy(n.scale).double()
            elif kind == "LI":
                tau, r, leak = (torch.from_numpy(a).double() for a in (n.tau, n.r, n.v_leak))
                v = state.get(name, torch.zeros_like(h))
                state[name] = h = v + dt / tau * (leak - v + r * h)
            elif kind == "Threshold":
                h = (h > torch.from_numpy(n.threshold).double()).double()
                spikes.setdefault(name, []).append(h)
            elif kind == "SumPool2d":
                h = F.avg_pool2d(h, tuple(n.kernel_size), tuple(n.stride), tuple(n.padding), divisor_override=1)
            elif kind == "AvgPool2d":
                h = F.avg_pool2d(h, tuple(n.kernel_size), tuple(n.stride), tuple(n.padding))
            elif kind == "Flatten":
                h = h.flatten(1)
            elif kind == "Output":
                outs.append(h)
            else:
                raise AssertionError(f"unexpected node {kind}")
    return torch.stack(outs).mean(0), {k: torch.stack(v) for k, v in spikes.items()}


def test_nir_round_trip_structure_and_semantics(tmp_path):
    model, x = exact_model(), exact_frames()
    net = deploy.compile(model, T=4, input_shape=(2, 8, 8))
    path = tmp_path / "exact.nir"
    nir.write(str(path), deploy.to_nir(net))
    g = nir.read(str(path))

    expected = ["input", "0", "1", "2.li", "2.threshold", "3", "3.or", "4", "5", "6.li", "6.threshold", "7",
                "8", "9", "10", "11.li", "11.threshold", "12", "output"]
    assert sorted(g.nodes) == sorted(expected)
    assert sorted(g.edges) == sorted(zip(expected[:-1], expected[1:]))
    kinds = {k: type(v).__name__ for k, v in g.nodes.items()}
    assert [kinds[k] for k in ("0", "1", "2.li", "2.threshold", "3", "7", "8", "12")] == \
        ["Conv2d", "Scale", "LI", "Threshold", "SumPool2d", "AvgPool2d", "Flatten", "Affine"]
    assert list(g.nodes["0"].output_type["output"]) == [4, 8, 8]
    assert list(g.nodes["3.or"].output_type["output"]) == [4, 4, 4]
    assert list(g.nodes["8"].output_type["output"]) == [16]
    assert list(g.nodes["output"].input_type["input"]) == [3]
    # weights: the dequantized codes * scale, bit widths in metadata
    assert np.array_equal(g.nodes["4"].weight, model[4].quantized_weight().detach().numpy())
    assert np.array_equal(g.nodes["12"].weight, model[12].quantized_weight().detach().numpy())
    assert int(g.nodes["4"].metadata["weight_bits"]) == 2 and int(g.nodes["12"].metadata["weight_bits"]) == 8
    # MF neuron: LI with tau = dt / (1 - beta) = 2, r = 2, no reset; threshold just below theta'
    assert np.all(g.nodes["2.li"].tau == 2.0) and np.all(g.nodes["2.li"].r == 2.0)
    assert np.all(g.nodes["2.threshold"].threshold == np.nextafter(np.float32(0.5), np.float32(-1)))
    assert float(g.nodes["11.threshold"].metadata["theta_fire"]) == 1.25
    assert int(g.nodes["11.threshold"].metadata["membrane_bits"]) == 3
    assert int(g.metadata["T"]) == 4

    # running the read-back graph gives the float model's spikes and logits
    logits_f, spikes_f = deploy.float_forward(model, x)
    logits_n, spikes_n = _run_nir(g, x)
    for k, ref in zip(("2.threshold", "6.threshold", "11.threshold"), spikes_f.values()):
        assert torch.equal(spikes_n[k].float(), ref), k
    assert torch.allclose(logits_n, logits_f.double(), atol=1e-12)


def test_nir_export_of_a_shipped_checkpoint_has_the_zoo_shapes():
    import model_zoo

    model = model_zoo.create_model("mf_vgg_small.fmnist_w2_m2", pretrained=True).eval()
    g = deploy.to_nir(model)
    assert list(g.nodes["input"].output_type["output"]) == [1, 28, 28]
    assert list(g.nodes["features.13.or"].output_type["output"]) == [128, 7, 7]
    assert type(g.nodes["classifier.0"]).__name__ == "Affine"
    assert g.nodes["classifier.0"].weight.shape == (10, 6272)
    with pytest.raises(ValueError, match="dt"):
        deploy.to_nir(model, dt=0)
