"""Measurements of a built network: spike statistics (``spikes``), synaptic operations and MACs of a forward
pass (``synops``), parameters and dense MACs by layer (``complexity``), and the energy of the counts, compute and
memory, SNN and same-shape ANN (``energy``, with the profiles of ``energy_profiles``).

Imports ``snasnet.core`` and ``snasnet.network``.
"""
