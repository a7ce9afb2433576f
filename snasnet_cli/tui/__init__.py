"""`snasnet tui`: a Textual dashboard that follows run directories and drives jobs as subprocesses.

The dashboard never imports torch: jobs run as ``python -m snasnet_cli ...`` processes and the dashboard reads the
run directories they write (docs/events.md), so it can equally follow a run synced from a GPU server.
``state`` (events -> what is shown) and ``source`` (tailing the files) need no terminal; ``app`` builds the UI.
"""
