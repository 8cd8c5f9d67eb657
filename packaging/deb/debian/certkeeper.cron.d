# certkeeper from cron. The systemd timer (certkeeper.timer) is the default scheduler;
# to use cron instead:  systemctl disable --now certkeeper.timer
# then uncomment ONE line below. certkeeper sleeps a random 0..jitter_seconds (900)
# itself, like the old tot-ops-monitor job, and prints nothing when nothing is due.
# Twice a day, 12 hours apart: ACME Renewal Information windows can be hours wide,
# and Let's Encrypt asks clients to check about twice a day.
#
# Every service on this host:
#0 3,15 * * * root /usr/bin/certkeeper check
#
# One service, with the old monitor's spelling (was: tot-ops-monitor --only cert_renewal_<service>):
#0 3,15 * * * root /usr/bin/certkeeper check --only cert_renewal_SERVICE
