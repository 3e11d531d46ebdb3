package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/proc"
)

// Bounds on a private daemon's life: how long it may take to answer after it starts, and to exit
// after SIGTERM before it is killed.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
)

// daemon is a private containerd the driver started: its own config, root, state and sockets.
type daemon struct {
	*proc.Process
	binary  string
	dir     string // config, state, sockets and log
	sockets string // the short link to dir the sockets are bound through
	socket  string // the gRPC socket
}

// config is a private daemon's configuration: root on the driver's backing, state under dir, the
// sockets in sockets (a short link to dir), and nothing loaded that seedbench does not use (no CRI,
// no NRI, no tracing, no snapshotter but the one measured).
func config(major, version int, root, dir, sockets, snapshotter string) string {
	disabled := []string{
		"io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.internal.v1.tracing",
		"io.containerd.tracing.processor.v1.otlp",
	}
	for _, s := range []string{"aufs", "btrfs", "zfs", "devmapper", "blockfile", "erofs", "native", "overlayfs"} {
		if s != snapshotter && (snapshotter != "" || (s != "native" && s != "overlayfs")) { // "": both
			disabled = append(disabled, "io.containerd.snapshotter.v1."+s)
		}
	}
	if major >= 2 {
		disabled = append(disabled, "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.nri.v1.nri",
			"io.containerd.image-verifier.v1.bindir", "io.containerd.podsandbox.controller.v1.podsandbox")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# a private containerd of a seedbench run: nothing outside this run's directory\nversion = %d\n", version)
	fmt.Fprintf(&b, "root = %q\nstate = %q\n", root, filepath.Join(dir, "state"))
	b.WriteString("disabled_plugins = [")
	for i, p := range disabled {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", p)
	}
	b.WriteString("]\n")
	grpc, ttrpc := filepath.Join(sockets, "g.sock"), filepath.Join(sockets, "t.sock")
	if version >= 4 {
		// From format 4 the servers are plugins: top-level [grpc] and [ttrpc] tables are ignored,
		// and the daemon would serve on the host's default socket.
		fmt.Fprintf(&b, "[debug]\n  level = \"warn\"\n")
		fmt.Fprintf(&b, "[plugins.'io.containerd.server.v1.grpc']\n  address = %q\n", grpc)
		fmt.Fprintf(&b, "[plugins.'io.containerd.server.v1.ttrpc']\n  address = %q\n", ttrpc)
		b.WriteString("[plugins.'io.containerd.server.v1.debug']\n  address = ''\n")
		b.WriteString("[plugins.'io.containerd.server.v1.metrics']\n  address = ''\n")
		b.WriteString("[plugins.'io.containerd.server.v1.grpc-tcp']\n  address = ''\n")
	} else {
		fmt.Fprintf(&b, "[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n[debug]\n  address = \"\"\n  level = \"warn\"\n[metrics]\n  address = \"\"\n", grpc, ttrpc)
	}
	return b.String()
}

// startDaemon starts binary (containerd of major version major) with its root at root and the rest
// under dir, and waits until its gRPC socket answers (ready); on every error the process is gone.
func startDaemon(ctx context.Context, binary string, major int, root, dir, snapshotter string, ready func(ctx context.Context, socket string) error) (*daemon, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// A socket's path must fit in sun_path (containerd allows 104 bytes), which a run directory's
	// need not: the daemon binds its sockets through a short link to dir (the sockets are in dir).
	sockets, err := drivers.LinkSockets(dir)
	if err != nil {
		return nil, err
	}
	socket := filepath.Join(sockets, "g.sock")
	version, err := configVersion(ctx, binary)
	if err != nil {
		return nil, errors.Join(err, os.Remove(sockets))
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(config(major, version, root, dir, sockets, snapshotter)), 0o600); err != nil {
		return nil, errors.Join(err, os.Remove(sockets))
	}
	d := &daemon{binary: binary, dir: dir, sockets: sockets, socket: socket,
		Process: &proc.Process{Name: "containerd", Detail: binary, Log: filepath.Join(dir, "containerd.log")}}
	logf, err := os.Create(d.Log)
	if err != nil {
		return nil, errors.Join(err, os.Remove(sockets))
	}
	defer logf.Close()
	cmd := exec.Command(binary, "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := proc.Start(cmd, d.Process); err != nil {
		return nil, errors.Join(err, os.Remove(sockets))
	}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-d.Exited():
			return nil, fmt.Errorf("%s exited before it answered (%v): %s", binary, d.WaitErr(), d.LogTail())
		default:
		}
		if _, err := os.Stat(socket); err == nil {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			err = ready(cctx, socket)
			cancel()
			if err == nil {
				return d, nil
			}
			if time.Now().After(deadline) {
				return nil, errors.Join(fmt.Errorf("%s did not answer on %s within %v: %w (log: %s)", binary, socket, startTimeout, err, d.Log), d.stop())
			}
		} else if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("%s made no socket %s within %v: %s", binary, socket, startTimeout, d.LogTail()), d.stop())
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), d.stop())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop ends the daemon: SIGTERM, then SIGKILL after stopTimeout. A daemon that exited on its own
// (killed mid-run) is an error naming its log.
func (d *daemon) stop() error {
	return errors.Join(d.Stop(stopTimeout), os.Remove(d.sockets), os.RemoveAll(d.dir))
}

// SocketLinks is where the short links private daemons bind their sockets through live.
const SocketLinks = drivers.SocketLinks

// Daemons lists the containerd processes serving a configuration under dir (a killed run's
// private daemons), by PID.
func Daemons(dir string) ([]int, error) {
	dir = filepath.Clean(dir) + "/"
	return drivers.Processes("containerd", func(args []string) bool {
		i := slices.Index(args, "--config")
		return i >= 0 && i+1 < len(args) && strings.HasPrefix(args[i+1], dir)
	})
}

// configVersion is the configuration format binary writes by default (`containerd config default`):
// the one it reads without migrating.
func configVersion(ctx context.Context, binary string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "config", "default").Output()
	if err != nil {
		return 0, fmt.Errorf("%s config default: %w", binary, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "version = "); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("%s config default: no version line", binary)
}

// binaryVersion is what binary --version says its version is ("v2.4.2", "1.6.20~ds1").
func binaryVersion(ctx context.Context, binary string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", binary, err)
	}
	// "containerd github.com/containerd/containerd/v2 v2.4.2 h1:…", "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return "", fmt.Errorf("%s --version: unexpected output %q", binary, strings.TrimSpace(string(out)))
	}
	return f[2], nil
}

// majorMinor parses "v2.4.2" or "1.6.20~ds1" into 2, 4 or 1, 6.
func majorMinor(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major, minor, err1 == nil && err2 == nil
}

// StartDaemon starts containerd dm as the drivers start their private ones (its root at root, the
// rest under dir, every snapshotter but the two measured disabled) and returns its socket and what
// stops it: a daemon standing in for a user's, for tests and trials of `--containerd`.
func StartDaemon(ctx context.Context, dm Daemon, root, dir string) (socket string, stop func() error, err error) {
	version, err := binaryVersion(ctx, dm.Binary)
	if err != nil {
		return "", nil, err
	}
	major, _, ok := majorMinor(version)
	if !ok {
		return "", nil, fmt.Errorf("cannot read the version %q of %s", version, dm.Binary)
	}
	d, err := startDaemon(ctx, dm.Binary, major, root, dir, "", func(ctx context.Context, socket string) error {
		c, _, err := dial(ctx, socket)
		if err == nil {
			err = c.Close()
		}
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return d.socket, d.stop, nil
}
