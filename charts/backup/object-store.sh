#!/bin/sh
set -eu
log() { echo "letta-k8s backup: $*"; }
remote="${LETTA_K8S_BACKUP_REMOTE}"
case "${1:-}" in
  upload)
    dir=$2 folder=$3
    if [ -z "$(find "$dir" -maxdepth 1 -name 'letta-*.dump' 2>/dev/null)" ]; then
      log "nothing to upload"
      exit 0
    fi
    log "uploading to $remote/$folder/"
    rclone copy --include 'letta-*.dump' --s3-no-check-bucket "$dir" "$remote/$folder"
    keep="${LETTA_K8S_BACKUP_RETENTION}"
    rclone lsf --files-only --include 'letta-*.dump' "$remote/$folder" | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
      log "deleting $remote/$folder/$old (keeping the newest $keep)"
      rclone deletefile "$remote/$folder/$old"
    done
    log "$remote/$folder/ holds $(rclone lsf --files-only --include 'letta-*.dump' "$remote/$folder" | wc -l | tr -d ' ') dumps"
    ;;
  list)
    shift
    for folder in "$@"; do rclone lsf --files-only --include 'letta-*.dump' --format ps --separator ' ' "$remote/$folder" | sed "s|^|$folder/|; s|$| bytes|"; done
    ;;
  download)
    log "downloading $remote/$2"
    rclone copyto "$remote/$2" "$3"
    ;;
  *)
    echo "usage: object-store.sh upload DIR FOLDER, list FOLDER..., or download KEY FILE" >&2
    exit 1
    ;;
esac
