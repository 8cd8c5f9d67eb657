from certkeeper.cli import main

main()
