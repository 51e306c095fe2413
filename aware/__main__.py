from aware.cli import main

main()
