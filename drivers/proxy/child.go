package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/proc"
)

// ChildName is the name (argv[0]) a driver's private server process runs under: the seedbench
// binary serving one in-process driver, as `seedbench serve` does. Cleanup finds a killed run's
// servers by it.
const ChildName = "seedbench-proxy-server"

// Bounds on a private server's life: how long it may take to serve after it starts, and to exit
// after SIGTERM (it closes its instance first) before it is killed.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
)

// ready is what a private server writes to its parent (on file descriptor 3) once it serves.
type ready struct {
	PID int `json:"pid"`
}

// ChildMain runs this process as a driver's private server if it was started as one (argv[0] is
// ChildName), serving the driver of cat its arguments name until SIGTERM; it reports whether it
// was. The command's main calls it first, and so does the TestMain of a test binary that opens a
// driver with a private server.
func ChildMain(cat *drivers.Catalog) (bool, error) {
	if filepath.Base(os.Args[0]) != ChildName {
		return false, nil
	}
	fs := flag.NewFlagSet(ChildName, flag.ContinueOnError)
	driver := fs.String("driver", "", "driver to serve")
	socket := fs.String("socket", "", "socket to serve at")
	workDir := fs.String("workdir", "", "the driver's work directory")
	bk := fs.String("backing", "", "the driver's backing filesystem")
	mountOptions := fs.String("mount-options", "", "extra mount options")
	size := fs.Int64("backing-size", 0, "backing size in bytes")
	image := fs.Int64("image-size", 0, "largest container in bytes")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return true, err
	}
	d, ok := cat.Get(*driver)
	if !ok {
		return true, fmt.Errorf("%s: unknown driver %q", ChildName, *driver)
	}
	opts := drivers.Options{WorkDir: *workDir, Backing: *bk, BackingSize: *size, ImageSize: *image}
	if *mountOptions != "" {
		opts.MountOptions = strings.Split(*mountOptions, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := Listen(ctx, d, *socket, opts)
	if err != nil {
		return true, err
	}
	w := os.NewFile(3, "ready")
	err = json.NewEncoder(w).Encode(ready{PID: os.Getpid()})
	if w != nil {
		w.Close()
	}
	if err == nil {
		select {
		case <-ctx.Done():
		case err = <-srv.Done():
		}
	}
	return true, errors.Join(err, srv.Close(context.Background()))
}

// server is a private server process a driver instance started, and reaches at socket.
type server struct {
	*proc.Process
	dir    string // its socket and its log
	link   string // the short link to dir the socket is bound through
	socket string
}

// startServer starts the seedbench binary as a private server of driver served, its work
// directory at opts.WorkDir, its socket and log in dir, and waits until it serves; on every error
// the process is gone.
func startServer(ctx context.Context, served, dir string, opts drivers.Options) (_ *server, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the seedbench binary to serve %s: %w", served, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &server{dir: dir, Process: &proc.Process{Name: "snapshots server", Detail: served, Log: filepath.Join(dir, "server.log"), Clean: true}}
	defer func() {
		if err != nil {
			if !s.Dead() { // not started, or still running; one that exited said how already
				err = errors.Join(err, s.Stop(stopTimeout))
			}
			err = errors.Join(err, s.remove())
		}
	}()
	if s.link, err = drivers.LinkSockets(dir); err != nil {
		return nil, err
	}
	s.socket = filepath.Join(s.link, "snapshots.sock")
	logf, err := os.Create(s.Log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	args := []string{ChildName, "--driver", served, "--socket", s.socket, "--workdir", opts.WorkDir,
		"--backing-size", strconv.FormatInt(opts.BackingSize, 10), "--image-size", strconv.FormatInt(opts.ImageSize, 10)}
	if opts.Backing != "" {
		args = append(args, "--backing", opts.Backing)
	}
	if len(opts.MountOptions) > 0 {
		args = append(args, "--mount-options", strings.Join(opts.MountOptions, ","))
	}
	err = proc.Start(&exec.Cmd{Path: exe, Args: args, Stdout: logf, Stderr: logf, ExtraFiles: []*os.File{w}}, s.Process)
	w.Close()
	if err != nil {
		return nil, err
	}
	msg := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r) // until the server closes its end, or exits
		msg <- b
	}()
	select {
	case b := <-msg:
		var rd ready
		if json.Unmarshal(b, &rd) == nil && rd.PID == s.PID() {
			return s, nil
		}
		<-s.Exited()
		return nil, fmt.Errorf("the private snapshots server of %s exited before it served (%v): %s", served, s.WaitErr(), s.LogTail())
	case <-time.After(startTimeout):
		return nil, fmt.Errorf("the private snapshots server of %s did not serve within %v (log: %s)", served, startTimeout, s.Log)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stop ends the server — SIGTERM (it closes its instance), then SIGKILL after stopTimeout — and
// removes its directory and socket link. A server that exited on its own (killed mid-run), or
// failed to close its instance, is an error naming its log.
func (s *server) stop() error { return errors.Join(s.Stop(stopTimeout), s.remove()) }

// remove removes the server's directory and socket link.
func (s *server) remove() error {
	var errs []error
	if s.link != "" {
		if err := os.Remove(s.link); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, os.RemoveAll(s.dir))...)
}

// Servers lists the private server processes whose work directory is under dir (a killed run's),
// by PID.
func Servers(dir string) ([]int, error) {
	dir = filepath.Clean(dir) + "/"
	return drivers.Processes(ChildName, func(args []string) bool {
		i := slices.Index(args, "--workdir")
		return i >= 0 && i+1 < len(args) && strings.HasPrefix(args[i+1], dir)
	})
}
