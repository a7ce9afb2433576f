"""The network: the cell encoding (``arch``), its operations and cells, the LIF neuron and its surrogates,
the model and its presets, and the files that hold them (checkpoints, ``best_arch.json``).

Imports only ``snasnet.core``. Nothing is imported here, so ``import snasnet.network.arch`` (which front ends
use to draw cells) stays free of torch; ``snasnet.build_model`` and the rest are offered by ``snasnet``.
"""
