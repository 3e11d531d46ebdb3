// Package network is the value a pull's network is described by: a bandwidth and a round-trip
// time ("100Mbit/s 20ms"), its grammar and its printed form. The shaping proxy (internal/registry)
// imitates one; scenarios, drivers and results name them.
package network

import (
	"fmt"
	"strings"
	"time"
)

// Profile is a network between a node and its registry: a bandwidth and a round-trip time.
type Profile struct {
	Name      string        `json:"name" yaml:"name"`
	Bandwidth int64         `json:"bandwidth_bps"` // bits per second; 0 = unlimited
	RTT       time.Duration `json:"rtt_ns"`
}

func (p Profile) String() string {
	if p.Name != "" {
		return p.Name
	}
	bw := "unlimited"
	if p.Bandwidth > 0 {
		bw = FormatBandwidth(p.Bandwidth)
	}
	return fmt.Sprintf("%s %s", bw, p.RTT)
}

// FormatBandwidth writes bits per second as "100Mbit/s".
func FormatBandwidth(bps int64) string {
	switch {
	case bps >= 1e9 && bps%1e9 == 0:
		return fmt.Sprintf("%dGbit/s", bps/1e9)
	case bps >= 1e6 && bps%1e6 == 0:
		return fmt.Sprintf("%dMbit/s", bps/1e6)
	case bps >= 1e3 && bps%1e3 == 0:
		return fmt.Sprintf("%dkbit/s", bps/1e3)
	}
	return fmt.Sprintf("%dbit/s", bps)
}

// Parse reads "100Mbit/s 20ms" (a bandwidth in bit/s, kbit/s, Mbit/s or Gbit/s, or
// "unlimited", then a round-trip time).
func Parse(s string) (Profile, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Profile{}, fmt.Errorf("network %q: write a bandwidth and a round-trip time, e.g. \"100Mbit/s 20ms\"", s)
	}
	var p Profile
	if f[0] != "unlimited" {
		units := []struct {
			suffix string
			mult   int64
		}{{"Gbit/s", 1e9}, {"Mbit/s", 1e6}, {"kbit/s", 1e3}, {"bit/s", 1}}
		ok := false
		for _, u := range units {
			if num, found := strings.CutSuffix(f[0], u.suffix); found {
				var n int64
				if _, err := fmt.Sscanf(num, "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != num {
					return Profile{}, fmt.Errorf("network %q: bandwidth %q: a positive whole number of %s", s, f[0], u.suffix)
				}
				p.Bandwidth, ok = n*u.mult, true
				break
			}
		}
		if !ok {
			return Profile{}, fmt.Errorf("network %q: bandwidth %q: use bit/s, kbit/s, Mbit/s or Gbit/s, or unlimited", s, f[0])
		}
	}
	rtt, err := time.ParseDuration(f[1])
	if err != nil || rtt < 0 || rtt > 10*time.Second {
		return Profile{}, fmt.Errorf("network %q: round-trip time %q: a duration from 0s to 10s, e.g. 20ms", s, f[1])
	}
	p.RTT = rtt
	p.Name = s
	return p, nil
}
