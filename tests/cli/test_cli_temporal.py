"""``mfp train``/``mfp eval`` on temporal data: sequences (fmnist-seq) and event frames (fmnist-dvs).

The numbers ``mfp eval`` prints are checked against an independent computation
(the same weights, the dataset built by hand with the T and framing the command
line should have passed, a plain loop for loss and top-1), so a T or
``--split-by`` that is not passed on shows up as a different loss.
"""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import model_zoo
from _fake_data import write_fake_fmnist
from mfp_plugin.cli import build_parser, main
from mfp_plugin.data import get_dataset
from mfp_plugin.engine import model_overrides


@pytest.fixture(scope="module")
def fake_fmnist(tmp_path_factory):
    return write_fake_fmnist(tmp_path_factory.mktemp("fmnist"), 64, 32)


def _reference(model, ds, n):
    """(loss, top-1 %) of ``model`` on the first ``n`` items, by a plain loop."""
    model.eval()
    xs = torch.stack([ds[i][0] for i in range(n)])
    ys = torch.tensor([ds[i][1] for i in range(n)])
    with torch.no_grad():
        logits = model(xs)
    return float(F.cross_entropy(logits, ys)), 100.0 * float((logits.argmax(1) == ys).float().mean())


def _eval_json(argv, tmp_path, capsys):
    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert main([*argv, "--no-progress", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    return json.loads(out.read_text()), printed


def _train(root, out, model, data, *extra):
    return ["train", model, "--data", data, "--data-root", str(root), "--epochs", "2", "--batch-size", "16",
            "--limit-train", "64", "--limit-test", "32", "--workers", "0", "--no-progress", "--output", str(out),
            *extra]


def test_train_sequences_resume_and_eval_with_tau_and_learnable_decay(fake_fmnist, tmp_path, capsys):
    run = tmp_path / "seq"
    argv = _train(fake_fmnist, run, "mf_seq_mlp", "fmnist-seq", "--tau", "4", "--learnable-decay")
    assert main([*argv, "--stop-after", "1"]) == 0
    assert "train mf_seq_mlp on fmnist-seq: 64 train / 32 test" in capsys.readouterr().out
    saved = json.loads((run / "args.json").read_text())
    assert saved["tau"] == 4.0 and saved["learnable_decay"] is True and saved["data"] == "fmnist-seq"
    with pytest.raises(SystemExit, match="--tau: run has 4.0, command line says 2.0"):
        main(["train", "--output", str(run), "--resume", "--tau", "2"])
    assert main(["train", "--output", str(run), "--resume", "--no-progress"]) == 0
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 2
    decays = {k: v for k, v in ckpt["model"].items() if k.endswith("decay_logit")}
    assert sorted(decays) == ["features.2.decay_logit", "features.5.decay_logit"]
    assert all(abs(float(torch.sigmoid(v)) - 0.75) > 1e-6 for v in decays.values())  # learnt from beta = 0.75

    # eval rebuilds the run's model (tau, learnable decay) from last.pt and its data from the run's args
    res, printed = _eval_json(["eval", "mf_seq_mlp", "--checkpoint", str(run / "last.pt"), "--limit", "16"],
                              tmp_path, capsys)
    assert "on fmnist-seq/test: 16 images" in printed and f"n=16 images" in printed
    model = model_zoo.create_model("mf_seq_mlp", **model_overrides({"tau": 4.0, "learnable_decay": True}))
    model.load_state_dict(ckpt["model"])
    loss, top1 = _reference(model, get_dataset("fmnist-seq", "test", fake_fmnist), 16)
    assert res["n"] == 16 and math.isclose(res["loss"], loss, rel_tol=1e-5) and math.isclose(res["top1"], top1)


def test_model_kwargs_build_train_resume_and_eval_the_same_net(fake_fmnist, tmp_path, capsys):
    """--model-kwargs reaches the builder, is part of the run (resume must match) and rebuilds it for eval."""
    run = tmp_path / "tcn"
    argv = _train(fake_fmnist, run, "mf_seq_tcn", "fmnist-seq", "--model-kwargs", "hidden=[16,12]",
                  "dilations=[1,3]")
    assert main([*argv, "--stop-after", "1"]) == 0
    saved = json.loads((run / "args.json").read_text())
    assert saved["model_kwargs"] == {"hidden": [16, 12], "dilations": [1, 3]}
    with pytest.raises(SystemExit, match="--model-kwargs: run has"):
        main(["train", "--output", str(run), "--resume", "--model-kwargs", "hidden=[16,16]", "dilations=[1,3]"])
    assert main(["train", "--output", str(run), "--resume", "--no-progress"]) == 0
    state = torch.load(run / "last.pt", weights_only=True)["model"]
    assert tuple(state["features.5.weight"].shape) == (12, 3 * 16)   # window(k=3) of 16 features -> 12
    res, printed = _eval_json(["eval", "mf_seq_tcn", "--checkpoint", str(run / "last.pt"), "--limit", "16"],
                              tmp_path, capsys)
    model = model_zoo.create_model("mf_seq_tcn", hidden=[16, 12], dilations=[1, 3])
    model.load_state_dict(state)
    loss, _ = _reference(model, get_dataset("fmnist-seq", "test", fake_fmnist), 16)
    assert math.isclose(res["loss"], loss, rel_tol=1e-5)


@pytest.mark.parametrize("extra,T,split_by", [([], 10, "number"), (["--T", "4", "--split-by", "time"], 4, "time")])
def test_eval_event_net_on_the_bundled_events(extra, T, split_by, tmp_path, capsys):
    torch.manual_seed(5)
    res, printed = _eval_json(["eval", "mf_dvs_net", "--no-pretrained", "--data", "fmnist-dvs-bundled",
                               "--limit", "16", *extra], tmp_path, capsys)
    assert "random" in printed and "on fmnist-dvs-bundled/test: 16 images" in printed
    line = next(x for x in printed.splitlines() if x.startswith("top-1 "))
    assert f"top-1 {res['top1']:.2f}%" in line and f"loss {res['loss']:.4f}" in line and "n=16 images" in line
    torch.manual_seed(5)  # the same random weights
    model = model_zoo.create_model("mf_dvs_net", T=T)
    loss, top1 = _reference(model, get_dataset("fmnist-dvs-bundled", T=T, split_by=split_by), 16)
    assert math.isclose(res["loss"], loss, rel_tol=1e-5) and math.isclose(res["top1"], top1)


def test_train_event_net_generates_frames_with_the_model_T(fake_fmnist, tmp_path, capsys):
    run = tmp_path / "dvs"
    argv = _train(fake_fmnist, run, "mf_dvs_net", "fmnist-dvs", "--T", "2", "--split-by", "time", "--epochs", "1",
                  "--limit-train", "32", "--limit-test", "16")
    assert main(argv) == 0
    assert (fake_fmnist / "fmnist_dvs_train_seed0.npz").is_file()  # events simulated from the images in the root
    saved = json.loads((run / "args.json").read_text())
    assert saved["T"] == 2 and saved["split_by"] == "time"
    res, _ = _eval_json(["eval", "mf_dvs_net", "--checkpoint", str(run / "last.pt"), "--limit", "8"], tmp_path, capsys)
    model = model_zoo.create_model("mf_dvs_net", T=2)
    model.load_state_dict(torch.load(run / "last.pt", weights_only=True)["model"])
    loss, _ = _reference(model, get_dataset("fmnist-dvs", "test", fake_fmnist, T=2, split_by="time"), 8)
    assert res["data"] == "fmnist-dvs" and math.isclose(res["loss"], loss, rel_tol=1e-5)


# argv (OUT: a run folder), words the one error line must contain
ERRORS = [
    (["train", "mf_seq_mlp", "--data", "fmnist-seq-bundled", "-o", "OUT"], ["fmnist-seq-bundled", "--data fmnist-seq"]),
    (["train", "mf_dvs_net", "--data", "fmnist-dvs-bundled", "-o", "OUT"], ["fmnist-dvs-bundled", "--data fmnist-dvs"]),
    (["train", "mf_vgg_mini", "--data", "fmnist-bundled", "-o", "OUT"], ["fmnist-bundled", "--data fmnist"]),
    (["train", "mf_seq_mlp", "--data", "fmnist-seq", "--split-by", "time", "-o", "OUT"], ["--split-by", "fmnist-seq"]),
    (["train", "mf_seq_mlp", "--data", "fmnist-seq", "--neuron", "qlif", "--learnable-decay", "-o", "OUT"],
     ["learnable decay", "qlif"]),
    (["train", "mf_seq_mlp", "--data", "fmnist-seq", "--tau", "1", "-o", "OUT"], ["--tau", "> 1"]),
    (["eval", "mf_seq_mlp", "--T", "8", "--data", "fmnist-seq-bundled"], ["T=8", "28", "--T 28"]),
    (["eval", "mf_vgg_small", "--no-pretrained", "--data", "fmnist-dvs-bundled"],
     ["input_type 'static'", "event frames", "mf_dvs_net"]),
    (["eval", "mf_dvs_net", "--data", "fmnist-seq-bundled"], ["input_type 'events'", "mf_seq_mlp"]),
    (["eval", "mf_dvs_net", "--data", "fmnist-dvs-bundled", "--learnable-decay", "--neuron", "plif"],
     ["plif learns its decay"]),
    (["eval", "mf_vgg_small", "--data", "fmnist-bundled", "--split-by", "number"], ["--split-by", "fmnist-bundled"]),
    (["train", "mf_seq_tcn", "--data", "fmnist-seq", "--model-kwargs", "T=4", "-o", "OUT"], ["may not set T", "--T"]),
    (["train", "mf_seq_tcn", "--data", "fmnist-seq", "--model-kwargs", "hiden=[8]", "-o", "OUT"], ["hiden"]),
    (["train", "mf_seq_tcn", "--data", "fmnist-seq", "--model-kwargs", "hidden", "-o", "OUT"], ["KEY=VALUE"]),
    (["eval", "mf_seq_tcn", "--data", "fmnist-seq-bundled", "--model-kwargs", "dilations=[1,2]"],
     ["one dilation per hidden layer"]),
]


@pytest.mark.parametrize("argv,words", ERRORS, ids=[" ".join(a[:4]) for a, _ in ERRORS])
def test_mismatched_model_data_and_options_are_one_usage_line(argv, words, tmp_path, capsys):
    out = tmp_path / "run"
    argv = [str(out) if a == "OUT" else a for a in argv]
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(argv)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert info.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists()  # refused before a run folder was made


def test_data_help_lists_the_temporal_datasets():
    sub = build_parser()._subparsers._group_actions[0].choices
    train_help, eval_help = sub["train"].format_help(), sub["eval"].format_help()
    flat_train, flat_eval = "".join(train_help.split()), "".join(eval_help.split())  # argparse wraps at hyphens
    for name in ("fmnist-seq", "fmnist-dvs-bundled", "nmnist", "dvsgesture", "--split-by"):
        assert name in flat_train and name in flat_eval
    assert "fmnist-seq-bundled(testonly)" in flat_train and "(testonly)" not in flat_eval
    assert "--tau" in train_help and "--learnable-decay" in eval_help
