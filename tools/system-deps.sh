#!/usr/bin/env bash
# System packages (Debian/Ubuntu) the workbook uses when they are there:
#   libopenblas-dev        fast BLAS for Theano (labkit.compat links it when it can)
#   dataset-fashion-mnist  the full Fashion-MNIST, offline, under /usr/share/datasets
#   chromium               the headless browser for the playground's browser test
#   graphviz               draws the toolkits' graphs (Theano's pydotprint, Chainer's and PyTorch's)
#   nodejs, npm            the ConvNetJS chapter's Node process (npm only where Node came without it)
#   openjdk-17-jre-headless  the Java runtime H2O's server and ND4J run in (the Java toolkits chapter)
#   libguava-java          a Guava new enough for ND4J's SameDiff (the nd4j wheel bundles an older one)
# Nothing here is required to run the notebooks; the tests under CI expect all of it.
set -euo pipefail
PKGS=(libopenblas-dev dataset-fashion-mnist chromium graphviz nodejs libguava-java)
# NodeSource's nodejs package carries npm itself and conflicts with Debian's npm
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
# any Java H2O supports will do; Debian 12 and Ubuntu 22.04+ carry 17
command -v java >/dev/null 2>&1 || PKGS+=(openjdk-17-jre-headless)
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: not a Debian or Ubuntu system; install the equivalents of: ${PKGS[*]}" >&2
    exit 0
fi
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system-deps: all present (${PKGS[*]})"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "system-deps: need root to install: ${missing[*]} (run as root or install them yourself)" >&2
        exit 1
    fi
fi
echo "system-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
