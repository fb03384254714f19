from takedown.cli.main import main

main()
