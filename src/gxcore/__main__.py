from gxcore.cli import main

main()
