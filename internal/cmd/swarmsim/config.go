package main

import (
	"time"

	"github.com/peertune/peertune/client/policy"
)

// Config is one scenario.
type Config struct {
	Listeners    int           // mean online (Poisson), or how many (stagger)
	Tracks       int           // catalog size
	Hours        float64       // simulated time, Poisson arrivals
	Seed         uint64        // the RNG's seed
	Zipf         float64       // popularity exponent
	TrackSeconds float64       // every track's length
	BitrateKbps  float64       // every track's bitrate
	PieceLen     int64         // bytes
	SessionMean  time.Duration // mean online time, exponential
	Churn        bool          // listeners leave when their session ends
	Warm         bool          // Poisson: the listeners online at the start hold what they would have played
	Stagger      time.Duration // > 0: listeners start this far apart, one track each
	Linger       time.Duration // stagger: online this long after the track; < 0: to the end
	UpX, DownX   float64       // listener caps, multiples of the bitrate
	SeedCap      float64       // bytes per second
	SeedCapSpec  string        // as given
	SeedDiesAt   time.Duration // < 0: never
	SeedDiesSpec string        // as given
	RTT          time.Duration // before an HTTP response or a peer's first byte
	Tick         time.Duration // the model's step
	DecideEvery  time.Duration // a playing stream decides at least this often
	MaxConns     int           // connections per listener and track (the player's --max-peers)
	PeerSetup    time.Duration // from a connection's dial to its first request (TCP, handshakes, bitfield, unchoke)
	Refill       time.Duration // how often a stream short of connections asks for more (PEX, tracker)
	Steal        bool          // model anacrolix's request stealing

	Params policy.Params
	// Decide is the source policy; nil is policy.Decide.
	Decide func(policy.Snapshot) policy.Decision
}

// DefaultConfig is the scenario of the flags' defaults.
func DefaultConfig() Config {
	return Config{
		Listeners:    1000,
		Tracks:       200,
		Hours:        1,
		Seed:         1,
		Zipf:         1.0,
		TrackSeconds: 180,
		BitrateKbps:  160,
		PieceLen:     16 << 10, // seederPieceLength of the default track
		SessionMean:  30 * time.Minute,
		Churn:        true,
		Warm:         true,
		UpX:          2,
		DownX:        10,
		SeedCap:      100 * 160e3 / 8,
		SeedCapSpec:  "100x",
		SeedDiesAt:   -1,
		Linger:       -1,
		SeedDiesSpec: "never",
		Tick:         100 * time.Millisecond,
		DecideEvery:  500 * time.Millisecond,
		MaxConns:     50, // client/stream.DefaultMaxPeers (TestMaxConnsIsThePlayers)
		PeerSetup:    250 * time.Millisecond,
		Refill:       15 * time.Second,
		Steal:        true,
	}
}

// Report is the outcome, printed as JSON.
type Report struct {
	// The scenario.
	Listeners     int     `json:"listeners"`
	Tracks        int     `json:"tracks"`
	Hours         float64 `json:"hours"`
	Seed          uint64  `json:"seed"`
	Zipf          float64 `json:"zipf"`
	TrackS        float64 `json:"track_s"`
	BitrateKbps   float64 `json:"bitrate_kbps"`
	PieceLen      int64   `json:"piece_len"`
	SessionMeanS  float64 `json:"session_mean_s"`
	Churn         bool    `json:"churn"`
	Warm          bool    `json:"warm"`
	StaggerS      float64 `json:"stagger_s"`
	LingerS       float64 `json:"linger_s"` // -1: to the end
	ListenerUpX   float64 `json:"listener_up_x"`
	ListenerDownX float64 `json:"listener_down_x"`
	SeedCap       string  `json:"seed_cap"`
	SeedCapBps    float64 `json:"seed_cap_bytes_per_s"`
	SeedDiesAt    string  `json:"seed_dies_at"`
	SeedDiesAtS   float64 `json:"seed_dies_at_s"` // -1: never
	RTTms         float64 `json:"rtt_ms"`
	TickMs        float64 `json:"tick_ms"`
	DecideEveryMs float64 `json:"decide_every_ms"`
	MaxConns      int     `json:"max_conns"`
	PeerSetupMs   float64 `json:"peer_setup_ms"`
	Steal         bool    `json:"steal"`
	PeerWindowS   float64 `json:"peer_window_s"` // the policy's PeerWindow

	// The outcome.
	SimS                     float64 `json:"sim_s"`
	Sessions                 int     `json:"sessions"`
	WarmCached               int     `json:"warm_cached_tracks"` // held at the start (--warm)
	OnlineMean               float64 `json:"online_mean"`
	OnlineMax                int     `json:"online_max"`
	Playbacks                int     `json:"playbacks"`
	Started                  int     `json:"started"` // = playbacks (bench-swarm's name)
	Finished                 int     `json:"finished"`
	Left                     int     `json:"left"`        // ended by churn mid-track
	InProgress               int     `json:"in_progress"` // playing at the end, not stuck
	PlaybacksWithUnderrun    int     `json:"playbacks_with_underrun"`
	Underruns                int     `json:"underruns"`
	Stalled                  int     `json:"stalled"`
	GaveUp                   int     `json:"gave_up"`
	CacheHits                int     `json:"cache_hits"`
	SeedShare                float64 `json:"seed_share"`
	SeedBytes                int64   `json:"seed_bytes"`
	SeedHTTPBytes            int64   `json:"seed_http_bytes"`
	SeedBTBytes              int64   `json:"seed_bt_bytes"`
	CountedBytes             int64   `json:"counted_bytes"` // pieces received from the network
	BytesSeedHead            int64   `json:"bytes_seed_head"`
	BytesSeedEmergency       int64   `json:"bytes_seed_emergency"`
	BytesSeedFill            int64   `json:"bytes_seed_fill"`
	BytesSeedBT              int64   `json:"bytes_seed_bt"`
	BytesCache               int64   `json:"bytes_cache"`
	PeerWireBytes            int64   `json:"peer_wire_bytes"`
	PeerCountedBytes         int64   `json:"peer_counted_bytes"`
	TTFAp50ms                float64 `json:"ttfa_p50_ms"`
	TTFAp95ms                float64 `json:"ttfa_p95_ms"`
	TTFAmaxMs                float64 `json:"ttfa_max_ms"`
	SeedBytesUntilComplete   int64   `json:"seed_bytes_until_swarm_complete"`
	TracksPlayed             int     `json:"tracks_played"`
	TracksSwarmComplete      int     `json:"tracks_swarm_complete"`
	SeedBytesAtDeath         int64   `json:"seed_bytes_at_death"`
	PiecesMissingAtSeedDeath int     `json:"pieces_missing_at_seed_death"` // of the tracks played by then, held by no one online
	FetchesStarted           int     `json:"fetches_started"`
	FillsRefused             int     `json:"fills_refused"`
	RequestsStolen           int64   `json:"requests_stolen"` // chunk requests moved to a connection with fewer out
	Decisions                int64   `json:"decisions"`
	WallS                    float64 `json:"wall_s"`
}
