from snasnet_cli.stop_signals import exit_interrupted, stop_on_signals

stop_on_signals()  # before the imports below, which take a moment: Ctrl-C there is one line too
try:
    from snasnet_cli.app import main
except KeyboardInterrupt:
    exit_interrupted()

main()
