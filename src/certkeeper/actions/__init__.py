"""One module per command lives here: the command's work, between cli.py (parsing and
rendering) and the modules that each do one job.

Each action takes a loaded Config (and `now` where it decides) and returns a value;
render.py and the CLI turn it into text. docs/architecture.md shows the rooms.
"""
