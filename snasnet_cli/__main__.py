from snasnet_cli.app import main

main()
