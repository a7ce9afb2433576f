"""The dashboard's panels, one module per area: search, training, spikes, log, runs."""
