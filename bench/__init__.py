"""Benchmark harness of mfp-plugin (see docs/benchmarks.md).

* ``python -m bench.neuron``  -- one neuron layer, forward + backward
* ``python -m bench.network`` -- a VGG-11-style spiking net, one training step
* :mod:`bench.reference_qsnn` -- an independent plain-torch loop of the vanilla QSNN neuron
"""
