#!/usr/bin/env bash
# Stop the single-node SLURM started by .ci/slurm/start.sh: exactly the PIDs it recorded in
# $IPGUARD_SLURM_DIR/pids (default /tmp/ipguard-slurm/pids), newest first, each only if the PID
# still belongs to the daemon of that name. Jobs still queued or running on this private test
# cluster are cancelled first (through scancel, so slurmd ends their processes).
# State, logs and the accounting database stay in $IPGUARD_SLURM_DIR; delete the folder to reset.
set -uo pipefail

STATE=${IPGUARD_SLURM_DIR:-/tmp/ipguard-slurm}
PIDS=$STATE/pids
export PATH=$PATH:/usr/sbin:/sbin

if [ ! -s "$PIDS" ]; then
  echo "slurm stop.sh: nothing to stop (no $PIDS)"
  exit 0
fi

comm_of() { cat "/proc/$1/comm" 2>/dev/null || true; }
# is PID $2 the daemon named $1, running (a zombie waiting to be reaped counts as stopped)?
alive() {
  [ -n "$2" ] && [ "$(comm_of "$2")" = "$1" ] \
    && ! grep -q '^State:[[:space:]]*Z' "/proc/$2/status" 2>/dev/null
}

ctld=$(awk '$1 == "slurmctld" { p = $2 } END { print p }' "$PIDS")
d=$(awk '$1 == "slurmd" { p = $2 } END { print p }' "$PIDS")
if [ -n "$ctld" ] && [ -n "$d" ] && alive slurmctld "$ctld" && alive slurmd "$d"; then
  jobs=$(timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    echo "slurm stop.sh: cancelling jobs $jobs"
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs || true
    for _ in $(seq 40); do
      [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
fi

rc=0
# newest first: slurmd, slurmctld, slurmdbd, mariadbd, munged
tac "$PIDS" | while read -r name pid; do
  [ -n "${pid:-}" ] || continue
  if ! alive "$name" "$pid"; then
    echo "slurm stop.sh: $name (pid $pid) is not running"
    continue
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do alive "$name" "$pid" || break; sleep 0.1; done
  if alive "$name" "$pid"; then
    echo "slurm stop.sh: $name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  if alive "$name" "$pid"; then
    echo "slurm stop.sh: error: could not stop $name (pid $pid)" >&2
    exit 1
  fi
  echo "slurm stop.sh: stopped $name (pid $pid)"
done || rc=1
[ $rc = 0 ] && rm -f "$PIDS"
exit $rc
