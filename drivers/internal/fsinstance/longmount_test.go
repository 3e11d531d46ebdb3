package fsinstance

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCompactLowerdirs(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		dir  string   // "" = left as it is
		want []string // the compacted options
	}{
		{
			in:   []string{"workdir=/r/snapshots/14/work", "lowerdir=/r/snapshots/13/fs:/r/snapshots/12/fs:/r/snapshots/1/fs", "index=off"},
			dir:  "/r/snapshots",
			want: []string{"workdir=/r/snapshots/14/work", "index=off", "lowerdir=13/fs:12/fs:1/fs"},
		},
		{in: []string{"lowerdir=/r/snapshots/2/fs:/r/snapshots/3/fs"}, dir: "/r/snapshots", want: []string{"lowerdir=2/fs:3/fs"}},
		{in: []string{"lowerdir=/r/s/1/fs:/r/s/1/fs2"}, dir: "/r/s/1", want: []string{"lowerdir=fs:fs2"}},
		{in: []string{"lowerdir=/r/snapshots/1/fs"}}, // one lower: nothing to compact
		{in: []string{"lowerdir=/a/fs:/b/fs"}},       // only "/" in common
		{in: []string{"upperdir=/x", "workdir=/y"}},  // no lowerdir
	} {
		if tc.dir == "" {
			tc.want = tc.in
		}
		dir, opts := compactLowerdirs(tc.in)
		if dir != tc.dir || !slices.Equal(opts, tc.want) {
			t.Errorf("%v: got %q %v, want %q %v", tc.in, dir, opts, tc.dir, tc.want)
		}
	}
}

func TestSplitFlags(t *testing.T) {
	flags, data := splitFlags([]string{"ro", "lowerdir=a:b", "nosuid", "index=off", "rw", "noatime"})
	if flags != unix.MS_NOSUID|unix.MS_NOATIME || data != "lowerdir=a:b,index=off" {
		t.Errorf("flags %#x data %q", flags, data)
	}
}
