#!/usr/bin/env bash
# Installs the Debian packages tests/slurm/cluster.sh needs to run a private one-node Slurm
# (slurmctld + slurmd + client commands) authenticated by munge. Skips apt entirely when
# everything is already there. Usage: scripts/install_slurm.sh
set -euo pipefail

# The minimal set rather than the slurm-wlm metapackage: no slurmdbd, no doc packages.
packages=(slurmctld slurmd slurm-client munge)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_slurm: all packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_slurm: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install_slurm: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
