"""``mfp report``: the deployment report through the command line."""
import json

import pytest

from mfp_plugin.cli import main


def test_report_on_a_shipped_checkpoint(tmp_path, capsys):
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    assert main(["report", "mf_vgg_small.fmnist_w1", "--data", "fmnist-bundled", "--limit", "8", "--no-progress",
                 "--json", str(out), "--plot", str(png)]) == 0
    assert "classifier.0" in capsys.readouterr().out and png.exists()
    rep = json.loads(out.read_text())
    assert rep["n_images"] == 8 and set(rep["energy_pj_per_image"]) >= {"snn", "ann"}
    assert {"top1_float", "top1_integer", "spike_agreement", "layers"} <= set(rep)
    assert all({"name", "firing_rate", "synops", "macs"} <= set(l) for l in rep["layers"])


def test_report_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "no_such_model", "--limit", "2", "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no_such_model" in err[0]
