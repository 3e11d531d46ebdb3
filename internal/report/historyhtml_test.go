package report

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/gate"
	"github.com/seedbench/seedbench/internal/result"
)

var historyPNG = flag.String("history-png", "", "keep the history page's screenshot from the headless browser at this path")

// recordedHistory is the history of the flagship's six recorded runs on one machine
// (results/debian-emacs-apache, 2026-11-27), which moved between runs as the code changed.
func recordedHistory(t *testing.T) *gate.History {
	t.Helper()
	files, err := filepath.Glob("../../results/debian-emacs-apache/20261127T*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("recorded results: %v, %d files", err, len(files))
	}
	var rs []*result.Result
	for _, f := range files {
		r, err := result.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	h, err := gate.BuildHistory(rs, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The page is whole without the network: nothing in it is loaded from elsewhere.
func TestHistoryHTMLSelfContained(t *testing.T) {
	h := recordedHistory(t)
	var buf bytes.Buffer
	if err := HistoryHTML(&buf, h); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, re := range []string{`(?i)<(script|img|iframe|link)[^>]+(src|href)=`, `(?i)@import`, `(?i)url\(`, `\bfetch\(`, `XMLHttpRequest`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("the page loads something from outside it: %q", m)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"'\s<>]+`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" { // the SVG namespace: a name, never fetched
			t.Errorf("the page names a URL: %s", u)
		}
	}
	regs, changes := h.Changes()
	if changes == 0 || !strings.Contains(page, strconv.Itoa(changes)+" change points, "+strconv.Itoa(regs)+" of them regressions") {
		t.Errorf("the page does not count the %d change points", changes)
	}
	// The verdict table has a row per change point of the times, each linking to its chart.
	rows := regexp.MustCompile(`<tr class="(regression|improvement)"><td>[^<]+</td><td><a href="#chart-`).FindAllString(page, -1)
	want := 0
	for _, g := range h.Groups {
		for _, c := range g.Classes {
			want += len(c.Changes)
		}
	}
	if len(rows) != want {
		t.Errorf("%d verdict rows, want %d", len(rows), want)
	}
}

// chromium runs Debian's chromium headless on the page with args, without the network (every host
// name resolves to nothing), and returns its stdout and stderr.
func chromium(t *testing.T, page string, args ...string) (stdout, stderr string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium on PATH: install Debian's chromium (scripts/setup-host.sh does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--enable-logging=stderr", "--v=0", "--user-data-dir=" + t.TempDir(), "--host-resolver-rules=MAP * ~NOTFOUND",
		"--no-first-run", "--disable-extensions"}, append(args, "file://"+page)...)...)
	// Its own process group, so a timeout ends the browser's helpers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, e.String())
	}
	return o.String(), e.String()
}

// The page loads in a real browser without a console message or an uncaught error, and its script
// draws a chart per class, each with its levels, and the change points marked.
func TestHistoryHTMLInBrowser(t *testing.T) {
	h := recordedHistory(t)
	page := filepath.Join(t.TempDir(), "history.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := HistoryHTML(f, h); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dom, logs := chromium(t, page, "--dump-dom")
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, ":CONSOLE") {
			t.Errorf("console: %s", l)
		}
	}
	if m := regexp.MustCompile(`data-error="([^"]*)"`).FindStringSubmatch(dom); m != nil {
		t.Errorf("the page's script failed: %s", m[1])
	}
	want := HistoryCharts(h)
	if want < 100 {
		t.Fatalf("only %d classes to chart in the recorded history", want)
	}
	if !strings.Contains(dom, `data-charts-drawn="`+strconv.Itoa(want)+`"`) {
		m := regexp.MustCompile(`data-charts-drawn="[0-9]*"`).FindString(dom)
		t.Fatalf("the page did not draw its %d charts (%q)", want, m)
	}
	if n := strings.Count(dom, `<div class="chart`); n != want {
		t.Errorf("%d chart elements in the DOM, want %d", n, want)
	}
	changes, runs := 0, 0
	for _, g := range h.Groups {
		if len(g.Runs) >= 2 {
			for _, c := range g.Classes {
				changes += len(c.Changes)
				runs += len(c.Levels) - len(c.Missing)
			}
		}
	}
	if n := strings.Count(dom, `class="change"`); n != changes {
		t.Errorf("%d change points marked, want %d", n, changes)
	}
	if n := strings.Count(dom, `class="level"`); n != runs {
		t.Errorf("%d levels drawn, want %d", n, runs)
	}
	if n := strings.Count(dom, `class="band"`); n < want {
		t.Errorf("%d noise bands drawn for %d charts", n, want)
	}

	// What a person sees: a screenshot with the charts in it, not a blank page.
	shot := filepath.Join(t.TempDir(), "history.png")
	chromium(t, page, "--window-size=1400,2200", "--screenshot="+shot)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != 1400 || sz.Y != 2200 {
		t.Errorf("screenshot is %v, want 1400×2200", sz)
	}
	if n := bandPixels(img); n < 2000 {
		t.Errorf("the screenshot has %d pixels of noise band: no charts to see", n)
	}
	if *historyPNG != "" {
		if err := os.WriteFile(*historyPNG, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bandPixels counts the pixels of img in the noise bands' pale blue (#4a78b5 at 13% over the
// chart's background).
func bandPixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if c.B > c.R+15 && c.B > 200 && c.R > 190 && c.R < 240 {
				n++
			}
		}
	}
	return n
}
