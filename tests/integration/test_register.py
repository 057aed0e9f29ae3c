import subprocess
import sys


def test_import_mutates_nothing_and_register_is_idempotent():
    code = """
import spikingjelly.activation_based.neuron as sjn
import snntorch
import mfp_plugin
assert not hasattr(sjn, 'MFNode') and not hasattr(sjn, 'QLIFNode') and not hasattr(snntorch, 'MFLeaky')
mfp_plugin.register()
mfp_plugin.register()
from mfp_plugin.snntorch import MFLeaky
assert sjn.MFNode is mfp_plugin.MFNode and sjn.QLIFNode is mfp_plugin.QLIFNode and snntorch.MFLeaky is MFLeaky
from spikingjelly.activation_based.model import spiking_vgg
net = spiking_vgg.spiking_vgg11(spiking_neuron=sjn.MFNode, num_classes=3)
print('ok')
"""
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
