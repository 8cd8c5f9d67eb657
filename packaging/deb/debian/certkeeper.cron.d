# certkeeper from cron. The systemd timer (certkeeper.timer) is the default scheduler;
# to use cron instead:  systemctl disable --now certkeeper.timer
# then uncomment ONE line below. certkeeper sleeps a random 0..jitter_seconds (900)
# itself, like the old tot-ops-monitor job, and prints nothing when nothing is due.
#
# Every service on this host:
#0 3 * * * root /usr/bin/certkeeper check
#
# One service, with the old monitor's spelling (was: tot-ops-monitor --only cert_renewal_<service>):
#0 3 * * * root /usr/bin/certkeeper check --only cert_renewal_SERVICE
