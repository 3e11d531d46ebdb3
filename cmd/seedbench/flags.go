package main

import (
	"flag"
	"io"
	"strings"
)

var errHelp = flag.ErrHelp

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(stderr, "usage: seedbench "+name+" "+usage+"\n")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags placed anywhere among the positional arguments (`run x.yaml --quick` works),
// and returns the positional ones. A bad flag is a usage error.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, errHelp
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// splitList splits a comma-separated flag value; an empty entry ("a,,b", ",") is a usage error,
// not a way to ask for everything.
func splitList(cmd, flag, s string) ([]string, error) {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x == "" {
			return nil, usagef("%s: --%s %q has an empty entry: name them separated by commas, e.g. --%s overlayfs,native", cmd, flag, s, flag)
		}
		out = append(out, x)
	}
	return out, nil
}
