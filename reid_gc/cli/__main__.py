from reid_gc.cli.main import main

main()
