#!/usr/bin/env bash
# Installs the Debian 12 packages flowtrail builds, tests and benchmarks with.
# Only missing packages are installed; needs root (or sudo) for that.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  libdpdk-dev libabsl-dev libprotobuf-dev protobuf-compiler libpcap-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # zstd-compressed segment files (--compress zstd)
  libzstd-dev
  # the configuration file (--config, TOML: toml++)
  libtomlplusplus-dev
  # TLS with mutual certificates for collector links (flowtrail collect);
  # the openssl command makes the certificates of e2e_collect.py
  libssl-dev openssl
  # Cairo draws `flowtrail report clusters --plot` (its text in DejaVu Sans)
  libcairo2-dev fonts-dejavu-core
  # the ClickHouse loader's HTTP client; the servers and client of its cluster test
  libcurl4-openssl-dev clickhouse-server clickhouse-client
  # DPDK drivers the sensor and tests load (Debian ships each on its own)
  librte-net-pcap23 librte-net-ring23 librte-net-null23
  # dpdk-testpmd (in dpdk-dev) for the line-rate comparison; argus and
  # hyperfine for the offline one; valgrind (callgrind) counts instructions
  # per packet (bench/instructions.sh); python3 runs the end-to-end tests
  dpdk dpdk-dev argus-server argus-client hyperfine valgrind python3
  # the example consumer (examples/python/read_stream.py) and its test
  python3-protobuf python3-zstandard
  # tshark: the independent reading of TCP sessions in the conformance test
  # (noninteractive: debconf keeps the default "no" to setuid dumpcap)
  tshark
  # the traffic lab (tests/lab/lab.py, e2e_lab_*): namespaces and capture,
  # the servers and the clients and scanners it runs
  iproute2 ethtool nftables tcpdump python3-pyftpdlib curl wget lftp
  nmap masscan hping3
  # the --metrics Prometheus endpoint (cpp-httplib) and its e2e test's parser
  libcpp-httplib-dev python3-prometheus-client
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
