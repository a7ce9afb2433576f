"""One module per `snasnet` command."""
