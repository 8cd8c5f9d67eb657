"""The Prometheus text exposition format, for node_exporter's textfile collector: what a
machine reads of the samples (samples.py gathers them).

Names and labels follow node_exporter (`_timestamp_seconds`, `_info`) and
x509-certificate-exporter (`not_after`, `not_before`), so that alert rules can use the
lifetime (not_after - not_before) instead of fixed days.
"""

from __future__ import annotations

import math

from certkeeper.samples import Sample

# name -> help text, in the order the file lists them.
FAMILIES: dict[str, str] = {
    "certkeeper_cert_not_after_timestamp_seconds": (
        "When the certificate expires, as served by this host's nginx or as on disk."
    ),
    "certkeeper_cert_not_before_timestamp_seconds": (
        "When the certificate became valid (or becomes: every client rejects it before); "
        "not_after - not_before is its lifetime."
    ),
    "certkeeper_cert_renewal_due": (
        "1 when the next check renews or issues this certificate (monitor-only: when it is "
        "inside its renewal window and needs a person)."
    ),
    "certkeeper_cert_next_renewal_timestamp_seconds": (
        "When the certificate falls due: the renewal window, or the CA's ARI window when it "
        "is earlier (as status shows it)."
    ),
    "certkeeper_cert_served_matches_disk": (
        "1 when nginx serves the certificate on disk for this name; 0 when it serves another "
        "one or none (renewed but not reloaded, or not answering)."
    ),
    "certkeeper_renewal_last_attempt_timestamp_seconds": "When certbot last ran for this lineage.",
    "certkeeper_renewal_last_success_timestamp_seconds": (
        "When a renewal or issuance of this lineage was last verified end to end."
    ),
    "certkeeper_renewal_consecutive_failures": "Failed renewal attempts in a row.",
    "certkeeper_rehearsal_last_timestamp_seconds": (
        "When this lineage's renewal was last rehearsed against the CA's staging server."
    ),
    "certkeeper_rehearsal_success": (
        "1 when that rehearsal passed, 0 when it failed: the next renewal will fail unless fixed."
    ),
    "certkeeper_outbox_messages": "Notices waiting in the outbox to be delivered.",
    "certkeeper_check_last_run_timestamp_seconds": "When `certkeeper check` last ran to the end.",
    "certkeeper_check_success": "1 when that check run succeeded, 0 when it reported a problem.",
    "certkeeper_info": "The running certkeeper version.",
    "certkeeper_mode": (
        "1 for the mode the config sets: shadow (decides, changes nothing) or active (renews)."
    ),
    "certkeeper_config_mistake": (
        "1 for each config key whose mistake holds the notices back or skips ARI; renewals go on."
    ),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(value: float) -> str:
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return str(int(value)) if value.is_integer() else repr(value)


def text(samples: list[Sample]) -> str:
    """Each family's HELP and TYPE, then its samples."""
    lines: list[str] = []
    for name, help_text in FAMILIES.items():
        mine = [s for s in samples if s.name == name]
        if not mine:
            continue
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for s in mine:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
            lines.append(
                f"{name}{{{labels}}} {_value(s.value)}" if labels else f"{name} {_value(s.value)}"
            )
    return "\n".join(lines) + "\n"
