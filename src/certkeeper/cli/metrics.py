"""`certkeeper metrics`: the Prometheus text format, printed or written for node_exporter."""

from __future__ import annotations

from pathlib import Path

import click

from certkeeper.actions import metrics as metrics_action
from certkeeper.cli.wrapper import Run, command, say, say_line
from certkeeper.render import metrics as words
from certkeeper.times import now


@command()
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write FILE atomically, mode 0644, instead of printing (node_exporter's textfile "
    "folder: /var/lib/prometheus/node-exporter/certkeeper.prom).",
)
def metrics(run: Run, output: Path | None) -> int:
    """Print every certificate, renewal and check-run fact in the Prometheus text format,
    for node_exporter's textfile collector. Probes like `status`; changes nothing else.

    Every `check` writes the same to metrics_file when the config sets it. Alert rules
    that use each certificate's lifetime: examples/prometheus/certkeeper.rules.yml.
    Exit: 0 written, 1 FILE could not be written, 2 usage or configuration error.
    """
    text = words.text(metrics_action.metrics(run.config(), now()))
    if output is None:
        say(text, nl=False)
        return 0
    try:
        metrics_action.write(output, text)
    except OSError as exc:
        say_line(f"certkeeper: cannot write {output}: {exc.strerror or exc}", err=True)
        return 1
    return 0
