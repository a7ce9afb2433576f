"""The old path of ``snasnet.measure.spikes`` (``from snasnet.spikes import SpikeMonitor``, as README's
example imports it), kept for code written before the package layout."""

from snasnet.measure.spikes import LayerSpikes, SpikeMonitor

__all__ = ["LayerSpikes", "SpikeMonitor"]
