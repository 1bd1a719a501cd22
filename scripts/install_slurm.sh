#!/usr/bin/env bash
# Installs the Debian packages tests/slurm/cluster.sh needs to run a private one-node Slurm
# (slurmctld + slurmd + client commands) authenticated by munge: the minimal set rather than
# the slurm-wlm metapackage (no slurmdbd, no documentation). Skips apt when all are there.
# Usage: scripts/install_slurm.sh
set -euo pipefail
exec "$(dirname "$0")/install_deps.sh" slurmctld slurmd slurm-client munge
