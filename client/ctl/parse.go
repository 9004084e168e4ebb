package ctl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxSeek bounds a seek position: no track is a day long.
const maxSeek = 24 * time.Hour

// ParseSeek reads a seek position: "+10s" or "-5" (seconds) move from
// where the player is (relative, d signed); "90s", "1:30" or "1:02:03"
// are a position in the track. A number without a unit is seconds.
func ParseSeek(s string) (d time.Duration, relative bool, err error) {
	bad := func() (time.Duration, bool, error) {
		return 0, false, fmt.Errorf("seek position %q: want [+|-]DURATION such as +10s, -5, 90s or 1:30", s)
	}
	t := strings.TrimSpace(s)
	sign := time.Duration(1)
	switch {
	case strings.HasPrefix(t, "+"):
		relative, t = true, t[1:]
	case strings.HasPrefix(t, "-"):
		relative, sign, t = true, -1, t[1:]
	}
	if t == "" || strings.ContainsAny(t, "+-") {
		return bad()
	}
	switch {
	case strings.Contains(t, ":"):
		d, err = parseClock(t)
	case strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }) < 0:
		var f float64
		f, err = strconv.ParseFloat(t, 64)
		if err == nil && !(f <= maxSeek.Seconds()) { // also NaN
			return bad()
		}
		d = time.Duration(f * float64(time.Second))
	default:
		d, err = time.ParseDuration(t)
	}
	if err != nil || d < 0 || d > maxSeek {
		return bad()
	}
	return sign * d, relative, nil
}

// parseClock reads [[h:]m:]s, each part a whole number but the seconds.
func parseClock(t string) (time.Duration, error) {
	parts := strings.Split(t, ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("too many parts")
	}
	var total float64
	for i, p := range parts {
		last := i == len(parts)-1
		if p == "" || (!last && strings.Contains(p, ".")) {
			return 0, fmt.Errorf("bad part %q", p)
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 || (i > 0 && v >= 60) {
			return 0, fmt.Errorf("bad part %q", p)
		}
		total = total*60 + v
	}
	if !(total <= maxSeek.Seconds()) {
		return 0, fmt.Errorf("too long")
	}
	return time.Duration(math.Round(total * float64(time.Second))), nil
}

// VolumeCeiling is the highest volume in percent a player may be started
// to allow (play --softvol-max); a player allows 100 unless told more.
const VolumeCeiling = 400

// ParseVolume reads a volume in percent, 0 to VolumeCeiling ("80" or "80%");
// whether the player goes above 100 is its --softvol-max.
func ParseVolume(s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if err != nil || v < 0 || v > VolumeCeiling {
		return 0, fmt.Errorf("volume %q: want a whole number from 0 to 100 (to %d with play --softvol-max)", s, VolumeCeiling)
	}
	return v, nil
}
