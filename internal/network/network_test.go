package network

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bps  int64
		rtt  time.Duration
		fail string
	}{
		{in: "100Mbit/s 20ms", bps: 100e6, rtt: 20 * time.Millisecond},
		{in: "1Gbit/s 1ms", bps: 1e9, rtt: time.Millisecond},
		{in: "unlimited 0s", rtt: 0},
		{in: "512kbit/s 300ms", bps: 512e3, rtt: 300 * time.Millisecond},
		{in: "100Mbit/s", fail: "write a bandwidth and a round-trip time"},
		{in: "100MB/s 20ms", fail: "use bit/s, kbit/s, Mbit/s or Gbit/s"},
		{in: "0Mbit/s 20ms", fail: "a positive whole number"},
		{in: "1.5Gbit/s 20ms", fail: "a positive whole number"},
		{in: "100Mbit/s -1ms", fail: "a duration from 0s to 10s"},
		{in: "100Mbit/s 1h", fail: "a duration from 0s to 10s"},
	} {
		p, err := Parse(tc.in)
		if tc.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fail) {
				t.Errorf("%q: error %v, want one saying %q", tc.in, err, tc.fail)
			}
			continue
		}
		if err != nil || p.Bandwidth != tc.bps || p.RTT != tc.rtt || p.String() != tc.in {
			t.Errorf("%q: %+v, %v; want %d bit/s, %v", tc.in, p, err, tc.bps, tc.rtt)
		}
	}
}
