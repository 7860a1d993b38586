# Sourced by images.sh and node-image.sh: the files a kind node image is made of come from the kind
# module zip itself (the same version as the kind CLI, pinned by go/kind), not from copies here.

# kind_module_dir: the sigs.k8s.io/kind module's source directory in the Go module cache.
kind_module_dir() {
  (cd "$lc_dir/go/kind" && go mod download sigs.k8s.io/kind && go list -m -f '{{.Dir}}' sigs.k8s.io/kind)
}

# kind_storage_images: the local-path-provisioner and helper image names of kind's default storage
# manifest, one a line (pkg/build/nodeimage/const_storage.go).
kind_storage_images() {
  local f
  f="$(kind_module_dir)/pkg/build/nodeimage/const_storage.go"
  sed -n 's/^const storageProvisionerImage = "\(.*\)"$/\1/p' "$f"
  sed -n 's/^const storageHelperImage = "\(.*\)"$/\1/p' "$f"
}

# kind_storage_manifest: kind's default storage manifest (what `kind build node-image` writes to
# /kind/manifests/default-storage.yaml) with its image constants substituted.
kind_storage_manifest() {
  local f provisioner helper
  f="$(kind_module_dir)/pkg/build/nodeimage/const_storage.go"
  { read -r provisioner; read -r helper; } < <(kind_storage_images)
  [ -n "$provisioner" ] && [ -n "$helper" ] || die "kind's const_storage.go changed shape: no image constants"
  sed -n '/^const defaultStorageManifest = `$/,/^`$/p' "$f" | sed '1d;$d' |
    sed -e "s#\` + storageProvisionerImage + \`#$provisioner#" -e "s#\` + storageHelperImage + \`#$helper#"
}
