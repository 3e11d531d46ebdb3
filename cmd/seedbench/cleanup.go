package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/seedbench/seedbench/drivers/all"
	"github.com/seedbench/seedbench/internal/rundir"
)

func cmdCleanup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cleanup", "[--workdir DIR]", stderr)
	base := fs.String("workdir", rundir.DefaultBase, "base directory of run state")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("cleanup needs root: it kills FUSE daemons, unmounts filesystems and detaches loop devices")
	}
	rep, err := rundir.Cleanup(*base, all.Catalog().Reapers())
	for _, k := range rep.Killed {
		if strings.HasPrefix(k, "removed ") { // a reaper's other undoing: a namespace in a user's daemon
			fmt.Fprintln(stdout, k)
		} else {
			fmt.Fprintf(stdout, "killed %s\n", k)
		}
	}
	for _, c := range rep.Aborted {
		fmt.Fprintf(stdout, "aborted FUSE connection %s (its unmount hung)\n", c)
	}
	for _, m := range rep.Unmounts {
		fmt.Fprintf(stdout, "unmounted %s\n", m)
	}
	for _, l := range rep.Loops {
		fmt.Fprintf(stdout, "detached %s\n", l)
	}
	for _, d := range rep.Dirs {
		fmt.Fprintf(stdout, "removed %s\n", d)
	}
	for _, d := range rep.Skipped {
		fmt.Fprintf(stdout, "kept %s (a live run holds it)\n", d)
	}
	if len(rep.Dirs)+len(rep.Skipped) == 0 && err == nil {
		fmt.Fprintln(stdout, "nothing to clean up")
	}
	return err
}
