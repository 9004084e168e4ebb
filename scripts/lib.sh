# Shared by the scripts: install what is missing, find Go. Source it.

# Debian packages the tests, the demo and the benchmarks use.
PEERTUNE_PACKAGES=(
	gcc libasound2-dev pkg-config # oto, the speaker output (cgo)
	aria2 opentracker wrk         # real BitTorrent peers, a reference tracker, HTTP load
	ffmpeg lame flac vorbis-tools espeak-ng sox # real encoders and a reference decoder
	redis-server redis-tools nginx tmux curl procps iproute2 # redis-server --sentinel is the Sentinel
	nftables # the network lab's NAT routers (internal/netlab)
	miniupnpd-nftables # the lab's UPnP home routers
	transmission-cli python3-libtorrent # real clients in the lab's interop tests
	dbus-daemon playerctl # the MPRIS test: a private session bus and a real controller
	chromium # the tracker's web page in a real headless browser (tracker/web_integration_test.go)
)

# ensure_packages installs the Debian packages that are missing
# (apt-get update once first). It needs root or sudo.
ensure_packages() {
	local missing=() p
	for p in "${PEERTUNE_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	echo "== installing: ${missing[*]}"
	local sudo=()
	[[ $(id -u) -ne 0 ]] && sudo=(sudo)
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ensure_go puts Go on PATH (the machines have it in /usr/local/go).
ensure_go() {
	if ! command -v go >/dev/null; then
		export PATH="$PATH:/usr/local/go/bin"
	fi
	command -v go >/dev/null || { echo "Go 1.26 is needed: install it into /usr/local/go" >&2; return 1; }
}
