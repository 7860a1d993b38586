#!/usr/bin/env bash
# Builds Traefik from the Go module proxy and makes the image traefik:<version> (v3.7.13), the
# ingress data plane of the local kind cluster (traefik-kind.yaml): ingress-nginx's controller
# cannot be built here, Traefik's kubernetesIngressNGINX provider serves the same Ingresses.
#   build-traefik.sh           prints the image tag as the last line on stdout (progress on stderr)
#   TRAEFIK_BINARY_ONLY=1 build-traefik.sh   stops after the binary; prints its path instead
#
# The version and every dependency are pinned by the wrapper module traefik/go.mod + go.sum
# (GOSUMDB=off: the checksum database is not reachable here; go.sum still pins every hash).
# The wrapper works around what the proxy cannot serve (see traefik/go.mod):
#   * github.com/traefik/traefik/dynamic/ext, a nested module missing from traefik's zip -> traefik/ext
#   * the containous/go-http-auth fork (403) -> upstream github.com/abbot/go-http-auth v0.4.0 plus
#     the fork's two functions that traefik calls (traefik/go-http-auth-fork.go.in)
#   * lego DNS providers whose SDK modules are refused (403): the build copies lego from the module
#     cache into its build directory (as it does go-http-auth; the module cache is never modified)
#     and drops them from lego's provider registry
#     (traefik/unavailable-dns-providers.txt). ACME with those DNS providers is all that is lost.
# The dashboard's web UI is not built (it needs Node and the GitHub tree): /dashboard/ is empty,
# as in any `go build` of traefik.
#
# Image, compared with the official traefik:v3.7.13 (alpine 3.x + ca-certificates + tzdata,
# /usr/local/bin/traefik, /entrypoint.sh, EXPOSE 80, ENTRYPOINT ["/entrypoint.sh"], CMD ["traefik"]):
# same layout, entrypoint script, EXPOSE, ENTRYPOINT and CMD, but on Debian bookworm minbase
# (+ ca-certificates, tzdata) instead of alpine, and a binary built from the Go proxy with the local
# Go instead of the release binary (same -s -w, CGO off, version stamped; codename left at the
# source default).
#
# Cache: the binary in $LETTA_K8S_CACHE/traefik/<version>-<hash of the recipe files>/; the base as
# the docker image letta-k8s/traefik-base:bookworm-<hash of its package list>; the image carries the
# label dev.letta-k8s.recipe=<hash> and is left alone when it already has the current hash.
# Needs Go >= 1.26, a Docker engine, and root with debootstrap for the base (first run only).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../cache-dir.sh"
module="$here/traefik"
export PATH="$PATH:/usr/local/go/bin" GOSUMDB=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

version="$(awk '$1 == "require" && $2 == "github.com/traefik/traefik/v3" { print $3 }' "$module/go.mod")"
lego_version="$(awk '$1 == "github.com/go-acme/lego/v5" && $2 ~ /^v/ { print $2; exit }' "$module/go.mod")"
[ -n "$version" ] && [ -n "$lego_version" ] || { echo "error: cannot read the versions from $module/go.mod" >&2; exit 1; }
image="traefik:$version"
recipe_files=("${BASH_SOURCE[0]}" "$module/go.mod" "$module/go.sum" "$module/ext/go.mod" "$module/ext/ext.go"
  "$module/unavailable-dns-providers.txt" "$module/go-http-auth-fork.go.in")
recipe="$(cat "${recipe_files[@]}" | sha256sum | cut -c1-12)"
cache="$LETTA_K8S_CACHE/traefik"
bin_dir="$cache/$version-$recipe"
binary="$bin_dir/traefik"
base_packages=ca-certificates,tzdata
suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base_image="letta-k8s/traefik-base:$suite-$(echo "$suite $base_packages" | sha256sum | cut -c1-12)"

total_started=$SECONDS
phase_started=$SECONDS
phase() { echo "[traefik] $1: $((SECONDS - phase_started)) s" >&2; phase_started=$SECONDS; }

if [ -z "${TRAEFIK_BINARY_ONLY:-}" ] &&
  [ "$(docker image inspect -f '{{index .Config.Labels "dev.letta-k8s.recipe"}}' "$image" 2>/dev/null)" = "$recipe" ]; then
  echo "[traefik] $image is up to date (recipe $recipe)" >&2
  echo "$image"
  exit 0
fi

# --- binary ---------------------------------------------------------------------------------------
if [ ! -x "$binary" ]; then
  command -v go >/dev/null || { echo "error: building traefik needs Go >= 1.26 on PATH" >&2; exit 1; }
  echo "[traefik] building traefik $version from the Go module proxy (once; cached in $bin_dir)" >&2
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cp "$module/go.mod" "$module/go.sum" "$work/"
  cp -r "$module/ext" "$work/ext"
  # copy_module MODULE VERSION DEST: a writable copy of MODULE@VERSION from the module cache, after
  # checking the hash that go.sum pins (downloaded outside the wrapper, which replaces the module).
  copy_module() {
    local json dir sum
    json="$(cd "$cache" && GOFLAGS=-mod=mod go mod download -json "$1@$2")"
    dir="$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$json")"
    sum="$(sed -n 's/^\t"Sum": "\(.*\)",$/\1/p' <<<"$json")"
    grep -qxF "$1 $2 $sum" "$module/go.sum" || { echo "error: $1@$2 has hash '$sum', not the one go.sum pins" >&2; exit 1; }
    cp -r "$dir" "$3"
    chmod -R u+w "$3"
  }
  # go-http-auth v0.4.0 (no go.mod of its own; a directory replacement needs one) plus the fork's
  # CheckSecret and DigestAuth.RequireAuthStale.
  copy_module github.com/abbot/go-http-auth v0.4.0 "$work/go-http-auth"
  printf 'module github.com/abbot/go-http-auth\n\ngo 1.16\n\nrequire (\n\t%s\n\t%s\n)\n' \
    "$(awk '$1 == "golang.org/x/crypto" { print $1, $2; exit }' "$module/go.mod")" \
    "$(awk '$1 == "golang.org/x/net" { print $1, $2; exit }' "$module/go.mod")" > "$work/go-http-auth/go.mod"
  cp "$module/go-http-auth-fork.go.in" "$work/go-http-auth/traefik_fork.go"
  # lego with the unavailable DNS providers cut out of its generated registry: their cases answer
  # "not included" and their imports go.
  copy_module github.com/go-acme/lego/v5 "$lego_version" "$work/lego"
  registry="$work/lego/providers/dns/zz_gen_dns_providers.go"
  mv "$registry" "$registry.orig"
  awk -v list="$module/unavailable-dns-providers.txt" '
    BEGIN {
      while ((getline line < list) > 0) {
        if (line ~ /^#/ || line ~ /^[ \t]*$/) continue
        split(line, f, " "); skip[f[1]] = 1; wanted++
      }
    }
    /^\t"github.com\/go-acme\/lego\/v5\/providers\/dns\/[a-z0-9]+"$/ {
      p = $0; gsub(/.*\/|"/, "", p)
      if (p in skip) { imports++; next }
    }
    /^\t\treturn [a-z0-9]+\.NewDNSProvider\(\)$/ {
      p = $2; sub(/\..*/, "", p)
      if (p in skip) {
        cases++
        print "\t\treturn nil, fmt.Errorf(\"DNS provider %q is not included in this build of traefik: its SDK module is not served by the Go module proxy\", name)"
        next
      }
    }
    { print }
    END { if (imports != wanted || cases != wanted) { printf "expected %d providers, cut %d imports and %d cases\n", wanted, imports, cases > "/dev/stderr"; exit 1 } }
  ' "$registry.orig" > "$registry"
  rm "$registry.orig"
  phase "modules (go-http-auth and lego copies)"

  package=github.com/traefik/traefik/v3/cmd/traefik
  total="$(cd "$work" && go list -deps -f '{{if not .Standard}}x{{end}}' "$package" | wc -l)"
  echo "[traefik] compiling $total non-standard packages (minutes on the first build)..." >&2
  version_pkg=github.com/traefik/traefik/v3/pkg/version
  (cd "$work" && CGO_ENABLED=0 go build -v -trimpath -o "$work/traefik" \
    -ldflags "-s -w -X $version_pkg.Version=$version -X $version_pkg.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "$package") 2>&1 |
    awk -v total="$total" '
      !/^[a-zA-Z0-9._~\/-]+$/ { print; fflush(); next }  # anything but a package path: an error
      ++n % 200 == 0 { printf "[traefik] %d packages compiled\n", n; fflush() }' >&2
  [ -x "$work/traefik" ] || { echo "error: go build failed" >&2; exit 1; }
  mkdir -p "$bin_dir"
  mv "$work/traefik" "$binary.partial"
  mv "$binary.partial" "$binary"
  rm -rf "$work"
  trap - EXIT
  phase "compile"
fi
"$binary" version >&2
if [ -n "${TRAEFIK_BINARY_ONLY:-}" ]; then
  echo "$binary"
  exit 0
fi

# --- base image: Debian minbase + CA certificates + time zones --------------------------------------
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "error: debootstrap and chroot need root" >&2; exit 1; }
  command -v debootstrap >/dev/null || { echo "error: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  mkdir -p "$cache"
  root="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  echo "[traefik] debootstrap $suite minbase + $base_packages from $mirror..." >&2
  debootstrap --variant=minbase --include="$base_packages" "$suite" "$root" "$mirror" >&2
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log "$root"/tmp/*
  tar -C "$root" --numeric-owner -c . |
    docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$base_image" >/dev/null
  rm -rf "$root"
  trap - EXIT
  phase "base image $base_image"
fi

# --- image ----------------------------------------------------------------------------------------
context="$(mktemp -d "$cache/image.XXXXXX")"
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/traefik"
# Behaves as the official image's entrypoint (written here, not copied): options, or a traefik
# subcommand, as the first argument run traefik with them; any other command runs as given.
cat > "$context/entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
set -e
case "${1:-}" in
  -*) set -- traefik "$@" ;;
  traefik | '') ;;
  *) if traefik "$1" --help >/dev/null 2>&1; then set -- traefik "$@"; fi ;;
esac
exec "$@"
ENTRYPOINT
chmod 0755 "$context/entrypoint.sh" "$context/traefik"
cat > "$context/Dockerfile" <<DOCKERFILE
FROM $base_image
COPY traefik /usr/local/bin/traefik
COPY entrypoint.sh /
EXPOSE 80
ENTRYPOINT ["/entrypoint.sh"]
CMD ["traefik"]
LABEL org.opencontainers.image.vendor="Traefik Labs" \\
    org.opencontainers.image.url="https://traefik.io" \\
    org.opencontainers.image.source="https://github.com/traefik/traefik" \\
    org.opencontainers.image.title="Traefik" \\
    org.opencontainers.image.description="A modern reverse-proxy (built by letta-k8s from the Go module proxy on Debian $suite)" \\
    org.opencontainers.image.version="$version" \\
    org.opencontainers.image.documentation="https://docs.traefik.io" \\
    dev.letta-k8s.recipe="$recipe"
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$image" "$context" >/dev/null
rm -rf "$context"
trap - EXIT
phase "image"
echo "[traefik] $image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'); total $((SECONDS - total_started)) s" >&2
echo "$image"
