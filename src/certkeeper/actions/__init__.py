"""One module per command lives here: the command's work, between cli.py (parsing and
rendering) and the modules that each do one job.

`metrics` and `report` start the layout; the other commands move in later.
"""
