from inbetween.cli import main

main()
