"""``python -m gracedesk``: the command line."""

from gracedesk.cli.main import main

main()
