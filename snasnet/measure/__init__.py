"""Measurements of a built network: spike statistics (``spikes``), synaptic operations and MACs of a forward
pass (``synops``), parameters and dense MACs by layer (``complexity``).

Imports ``snasnet.core`` and ``snasnet.network``.
"""
