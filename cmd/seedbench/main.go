// Command seedbench measures what the four rules of layered container storage cost on each storage
// driver — a new file goes to the container layer, a read searches the layers top-down, a modified
// file is first copied up, a deleted file is hidden by a whiteout — by replaying a scenario through
// containerd's snapshotters.
//
//	seedbench run SCENARIO.yaml... [--drivers a,b] [--quick] [--samples N] [--out FILE] [--format table|json|gobench] [--details] [-q] [--workdir DIR] [--results DIR] [--repeat N] [--inject-fault SPEC] [--shard I/N] [--registry http://HOST:PORT] [--containerd SOCKET]
//	seedbench validate SCENARIO.yaml...
//	seedbench show SCENARIO.yaml [--quick] [--samples N]
//	seedbench trace SCENARIO.yaml --image NAME [-o FILE] [--timeout D] [--workdir DIR] -- COMMAND [ARG...]
//	seedbench drivers [--json]
//	seedbench report RESULT.json... [-o FILE] [--format table|markdown|gobench|github-smaller|github-bigger]
//	seedbench compare BASE.json NEW.json [--noise FILE] [--format table|markdown|json] [--all] [--force] [--min-effect F] [--alpha F]
//	seedbench compare RUN.json [--base DRIVER --new DRIVER] [--spread DIR] [--format table|markdown|json] [--all] [--min-effect F] [--alpha F]
//	seedbench noise RESULT.json... [-o FILE]
//	seedbench trials --learn DIR --aa DIR --faulted DIR [-o FILE]
//	seedbench trials --paired DIR [-o FILE]
//	seedbench history DIR|RESULT.json... [--noise FILE] [--format table|markdown|json] [--all] [--plot FILE.svg] [--html FILE.html] [--min-effect F] [--alpha F]
//	seedbench merge SHARD.json... -o FILE
//	seedbench serve --driver NAME --socket PATH [--workdir DIR] [--backing-size SIZE]
//	seedbench cleanup [--workdir DIR]
//
// Exit codes: 0 ok; 1 error; 2 usage; 3 compare found a significant regression; 4 run finished but
// some requested drivers were skipped or failed; 130 interrupted (after cleanup).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/containerd/log"
)

func init() {
	// containerd's mount.All mounts deep overlay stacks from a locked thread that changes directory
	// into the snapshots dir; if that thread were the main thread, Go would park it there, keeping the
	// backing busy. Pinning main to its own thread keeps mounting goroutines off it.
	runtime.LockOSThread()
}

// Exit codes (public contract).
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitRegression  = 3
	exitDriversLost = 4
	exitInterrupted = 130
)

// usageError is a command-line mistake (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// codeError carries a specific exit code with an optional message.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e codeError) Unwrap() error { return e.err }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "replay scenarios on storage drivers and record the results", cmdRun},
		{"validate", "check scenario files; errors as FILE:LINE: field: message", cmdValidate},
		{"show", "print the resolved plan of a scenario", cmdShow},
		{"trace", "record the files a program touches in an image, for the trace op", cmdTrace},
		{"drivers", "list every driver: available, or why not and the fix", cmdDrivers},
		{"report", "render result files as tables", cmdReport},
		{"compare", "judge a result against a base one; exit 3 on a regression", cmdCompare},
		{"noise", "learn the noise floors compare judges by, from A/A runs", cmdNoise},
		{"trials", "measure the regression gate: false alarms and detection power", cmdTrials},
		{"history", "a series of results over time: each class's level and its change points", cmdHistory},
		{"merge", "join the results of a run's shards into the whole run's", cmdMerge},
		{"serve", "serve a driver's snapshotter as containerd's snapshots gRPC service on a unix socket (a proxy plugin)", cmdServe},
		{"cleanup", "undo what a killed run left: FUSE daemons, mounts, loop devices, work dirs", cmdCleanup},
	}
}

func main() {
	// containerd's libraries log through logrus; their warnings (no fsverity on a loop fs, …) are not
	// the user's business.
	log.SetLevel("error")
	if code := serveChild(); code >= 0 { // a proxy driver's private server
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: seedbench COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'seedbench COMMAND -h' for a command's flags.")
}

// runMain maps every outcome to an exit code, in one place.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		return exitCode(err, stderr)
	}
	fmt.Fprintf(stderr, "seedbench: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return exitUsage
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ce codeError
	if errors.As(err, &ce) {
		if ce.err != nil {
			fmt.Fprintf(stderr, "seedbench: %v\n", ce.err)
		}
		return ce.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "seedbench: %v\n", err)
		return exitUsage
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "seedbench: interrupted (cleaned up)")
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "seedbench: %v\n", err)
	return exitError
}
