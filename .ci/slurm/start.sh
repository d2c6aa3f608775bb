#!/usr/bin/env bash
# Install and start a single-node SLURM on this machine, for the `slurm`-marked tests.
#
#   sudo .ci/slurm/start.sh        # idempotent; prints "slurm up: ..." when the node is idle
#   sudo .ci/slurm/stop.sh         # stops exactly the daemons this script started
#
# Debian 12 (slurm 22.05) as root, without systemd: munged, mariadbd (accounting database),
# slurmdbd, slurmctld and slurmd are started by hand. Real accounting is needed because submitit
# asks `sacct` for job states. State, spool, logs, the database and the PID file live under
# $IPGUARD_SLURM_DIR (default /tmp/ipguard-slurm); slurm.conf and slurmdbd.conf are written to
# /etc/slurm (where every SLURM client looks), and an existing file not written by this script is
# never overwritten.
set -euo pipefail

STATE=${IPGUARD_SLURM_DIR:-/tmp/ipguard-slurm}
CLUSTER=${IPGUARD_SLURM_CLUSTER:-ipguard}
PARTITION=${IPGUARD_SLURM_LOCAL_PARTITION:-debug}
ETC=/etc/slurm
PIDS=$STATE/pids
LOG=$STATE/log
RUN=$STATE/run
MARK="# written by ipguard .ci/slurm/start.sh"
MYSQL_SOCK=/run/mysqld/mysqld.sock
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T0=$(date +%s)

die() { echo "slurm start.sh: error: $*" >&2; exit 1; }
trap 'echo "slurm start.sh: error: command failed (line $LINENO): $BASH_COMMAND; logs in $LOG" >&2' ERR

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons)"

# name of the process behind a PID, or nothing if it is gone
comm_of() { cat "/proc/$1/comm" 2>/dev/null || true; }
# is PID $2 the daemon named $1, running (a zombie waiting to be reaped counts as stopped)?
alive() {
  [ -n "$2" ] && [ "$(comm_of "$2")" = "$1" ] \
    && ! grep -q '^State:[[:space:]]*Z' "/proc/$2/status" 2>/dev/null
}
recorded_pid() { [ -f "$PIDS" ] && awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$PIDS" || true; }
record() { echo "$1 $2" >>"$PIDS"; }

# wait up to $1 seconds for the command that follows to succeed
wait_for() {
  local t=$1; shift
  local end=$(($(date +%s) + t))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.5
  done
}
# the PID in a daemon's pid file, once it is written and alive
pid_from_file() {
  local name=$1 file=$2 end=$(($(date +%s) + 30)) p
  while :; do
    p=$(cat "$file" 2>/dev/null || true)
    if alive "$name" "$p"; then echo "$p"; return 0; fi
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}
node_ready() { sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)$'; }

DAEMONS="munged mariadbd slurmdbd slurmctld slurmd"

# ---- already running? ---------------------------------------------------------------------------
if [ -f "$PIDS" ]; then
  all=1; any=0
  for d in $DAEMONS; do
    if alive "$d" "$(recorded_pid "$d")"; then any=1; else all=0; fi
  done
  if [ $all = 1 ] && node_ready && sacct -n -X -S now-1minutes >/dev/null 2>&1; then
    echo "slurm up (already running): $(sinfo -h -N -o '%N %T %c CPUs %m MB' | head -1); PIDs in $PIDS"
    exit 0
  fi
  if [ $any = 1 ]; then
    echo "slurm start.sh: a previous start is partly running; stopping it first" >&2
    IPGUARD_SLURM_DIR=$STATE "$HERE/stop.sh" >&2 || true
  fi
  rm -f "$PIDS"
fi

# ---- packages -----------------------------------------------------------------------------------
mkdir -p "$STATE" "$LOG" "$RUN" "$STATE/ctld" "$STATE/slurmd"
need=0
for b in munged slurmctld slurmd slurmdbd sbatch sacct sacctmgr mariadbd mariadb-install-db; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || need=1
done
if [ $need = 1 ]; then
  command -v apt-get >/dev/null || die "SLURM is not installed and there is no apt-get (needs Debian 12)"
  echo "slurm start.sh: installing slurm, munge, slurmdbd, mariadb (apt log: $LOG/apt.log)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -q && apt-get install -y -q --no-install-recommends \
      slurmctld slurmd slurm-client munge slurmdbd mariadb-server; } >"$LOG/apt.log" 2>&1 \
    || die "apt-get install failed; last lines of $LOG/apt.log: $(tail -3 "$LOG/apt.log" | tr '\n' ' ')"
fi
export PATH=$PATH:/usr/sbin:/sbin

# refuse to clobber a slurm.conf that belongs to someone else (a real cluster client, say)
for f in "$ETC/slurm.conf" "$ETC/slurmdbd.conf"; do
  if [ -s "$f" ] && ! grep -qF "$MARK" "$f" && [ "${IPGUARD_SLURM_FORCE:-0}" != 1 ]; then
    die "$f exists and was not written by this script; set IPGUARD_SLURM_FORCE=1 to overwrite it"
  fi
done
mkdir -p "$ETC"
: >"$PIDS"
rm -f /run/munge/munged.pid /run/mysqld/mariadbd.pid "$RUN"/*.pid   # stale files from a dead run

# ---- munge --------------------------------------------------------------------------------------
[ -s /etc/munge/munge.key ] || { runuser -u munge -- mungekey --create >/dev/null 2>&1 || die "cannot create /etc/munge/munge.key"; }
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
runuser -u munge -- /usr/sbin/munged --force --pid-file=/run/munge/munged.pid \
  >"$LOG/munged.out" 2>&1 || die "munged did not start: $(tr '\n' ' ' <"$LOG/munged.out")"
p=$(pid_from_file munged /run/munge/munged.pid) || die "munged did not write /run/munge/munged.pid"
record munged "$p"
munge -n | unmunge >/dev/null 2>&1 || die "munge credentials do not round-trip (munge -n | unmunge)"

# ---- mariadb (accounting storage) ---------------------------------------------------------------
MYOPTS=(--datadir="$STATE/mysql" --innodb-log-file-size=16M --innodb-buffer-pool-size=64M)
if [ ! -d "$STATE/mysql/mysql" ]; then
  install -d -o mysql -g mysql -m 0750 "$STATE/mysql"
  mariadb-install-db --user=mysql "${MYOPTS[@]}" --auth-root-authentication-method=socket \
    --skip-test-db >"$LOG/mariadb-install.log" 2>&1 \
    || die "mariadb-install-db failed; see $LOG/mariadb-install.log"
fi
[ -S "$MYSQL_SOCK" ] && mariadb-admin --socket="$MYSQL_SOCK" ping >/dev/null 2>&1 \
  && die "another MariaDB/MySQL server already listens on $MYSQL_SOCK; stop it first"
install -d -o mysql -g mysql -m 0755 /run/mysqld
touch "$LOG/mariadb.log"; chown mysql:mysql "$LOG/mariadb.log"
# mariadbd started as root with --user=mysql drops to the mysql user itself; setsid detaches it
setsid /usr/sbin/mariadbd --user=mysql "${MYOPTS[@]}" --socket="$MYSQL_SOCK" --skip-networking \
  --pid-file=/run/mysqld/mariadbd.pid --log-error="$LOG/mariadb.log" </dev/null >/dev/null 2>&1 &
p=$(pid_from_file mariadbd /run/mysqld/mariadbd.pid) || die "mariadbd did not start; see $LOG/mariadb.log"
record mariadbd "$p"
wait_for 30 mariadb-admin --socket="$MYSQL_SOCK" ping || die "mariadbd does not answer; see $LOG/mariadb.log"

if [ -f "$ETC/slurmdbd.conf" ] && grep -qF "$MARK" "$ETC/slurmdbd.conf"; then
  DBPASS=$(sed -n 's/^StoragePass=//p' "$ETC/slurmdbd.conf")
fi
DBPASS=${DBPASS:-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}
mariadb --socket="$MYSQL_SOCK" -u root >"$LOG/mariadb-setup.log" 2>&1 <<SQL || die "cannot create the slurm_acct_db database; see $LOG/mariadb-setup.log"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

# ---- configuration ------------------------------------------------------------------------------
umask 077
cat >"$ETC/slurmdbd.conf" <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
PidFile=$RUN/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
EOF
chmod 600 "$ETC/slurmdbd.conf"
umask 022

HOST=$(hostname -s)
NODE=$(slurmd -C | head -1)                       # NodeName=<host> CPUs=... RealMemory=...
case $NODE in NodeName=*) ;; *) die "slurmd -C did not describe this node: $NODE";; esac
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$NODE")
MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE")
MEM=$((MEM - 512))                                # leave room; slurmd drains a node that has less
NODE=$(sed "s/RealMemory=[0-9]*/RealMemory=$MEM/" <<<"$NODE")
# memory per CPU so that a job with no --mem takes its share, not the whole node (jobs in parallel)
DEFMEM=$((MEM / CPUS))
# GPUs (untested here: this machine has none): one gres per /dev/nvidiaN
GPUS=$(ls /dev 2>/dev/null | grep -Ec '^nvidia[0-9]+$' || true)
GRES_LINES=""; NODE_GRES=""
if [ "${GPUS:-0}" -gt 0 ]; then
  GRES_LINES="GresTypes=gpu"
  NODE_GRES=" Gres=gpu:$GPUS"
  echo "$MARK" >"$ETC/gres.conf"
  echo "NodeName=$HOST Name=gpu File=/dev/nvidia[0-$((GPUS - 1))]" >>"$ETC/gres.conf"
fi

cat >"$ETC/slurm.conf" <<EOF
$MARK
# single-node test cluster; state in $STATE
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEFMEM
SchedulerType=sched/backfill
# a requeued job (the time-limit requeue test) waits cred_expire seconds (default 120) and then
# for a scheduling pass (default every 30 s backfill, 60 s main): short here, so that it
# restarts within ~15 s
AuthInfo=cred_expire=10
SchedulerParameters=bf_interval=2,sched_interval=2
ReturnToService=2
InactiveLimit=0
KillWait=10
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
$GRES_LINES
$NODE NodeAddr=127.0.0.1$NODE_GRES State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
chmod 644 "$ETC/slurm.conf"

# ---- slurmdbd, cluster, slurmctld, slurmd -------------------------------------------------------
slurmdbd >"$LOG/slurmdbd.out" 2>&1 || die "slurmdbd did not start; see $LOG/slurmdbd.log"
p=$(pid_from_file slurmdbd "$RUN/slurmdbd.pid") || die "slurmdbd exited; see $LOG/slurmdbd.log"
record slurmdbd "$p"
wait_for 30 sacctmgr -n list cluster || die "slurmdbd does not answer sacctmgr; see $LOG/slurmdbd.log"
if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
  sacctmgr -i add cluster "$CLUSTER" >"$LOG/sacctmgr.out" 2>&1 \
    || die "sacctmgr add cluster $CLUSTER failed: $(tr '\n' ' ' <"$LOG/sacctmgr.out")"
fi

slurmctld >"$LOG/slurmctld.out" 2>&1 || die "slurmctld did not start; see $LOG/slurmctld.log"
p=$(pid_from_file slurmctld "$RUN/slurmctld.pid") || die "slurmctld exited; see $LOG/slurmctld.log"
record slurmctld "$p"
slurmd >"$LOG/slurmd.out" 2>&1 || die "slurmd did not start; see $LOG/slurmd.log"
p=$(pid_from_file slurmd "$RUN/slurmd.pid") || die "slurmd exited; see $LOG/slurmd.log"
record slurmd "$p"

# ---- ready? -------------------------------------------------------------------------------------
if ! wait_for 60 node_ready; then
  # a node left down/drained by an earlier run: bring it back once
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  wait_for 20 node_ready || die "node $HOST is not idle: $(sinfo -h -N -o '%T %E' 2>&1 | head -1); see $LOG/slurmctld.log"
fi
wait_for 30 sacct -n -X -S now-1minutes || die "sacct does not work: $(sacct -n -X 2>&1 | head -1)"
# one real job end to end (srun needs a working slurmd, munge credentials and a free CPU)
timeout 60 srun -N1 -n1 -c1 --mem=64 -t 1 -J ipguard-smoke true >"$LOG/smoke.out" 2>&1 \
  || die "a 1-CPU test job did not run: $(tr '\n' ' ' <"$LOG/smoke.out"); see $LOG/slurmd.log"

trap - ERR
echo "slurm up in $(($(date +%s) - T0))s: $(sinfo -h -N -o '%N %T %c CPUs %m MB' | head -1)," \
  "partition $PARTITION, cluster $CLUSTER; PIDs in $PIDS; logs in $LOG"
