# Sourced by shell tests. wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s until it
# succeeds; returns 1 after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
