package report

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// pageOf renders the page of the testdata results named.
func pageOf(t *testing.T, busy bool, names ...string) string {
	t.Helper()
	var entries []PageEntry
	for _, n := range names {
		r, err := result.ReadFile("testdata/" + n + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if busy {
			// Every metric of the run measured on a busy machine, as on a shared host.
			for i := range r.Metrics {
				r.Metrics[i].Warnings = append(r.Metrics[i].Warnings,
					result.Warnf(result.WarnBusy, "busy machine: CPU pressure %d%% (PSI some avg10) during lookup warm", 21+i%13))
			}
		}
		entries = append(entries, PageEntry{Result: r, Doc: Build(r)})
	}
	var buf bytes.Buffer
	if err := Page("seedbench report "+strings.Join(names, " "), entries).Markdown(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestPageGolden(t *testing.T) {
	got := pageOf(t, false, "full", "daemon")
	golden := "testdata/page.md.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Page differs from %s (run go test -update if intended):\n--- got ---\n%s", golden, got)
	}
}

// The first screen answers: the answer table is within the first 60 lines, with a pick, a ratio
// with its interval and the run it comes from for each rule the results measure.
func TestPageFirstScreen(t *testing.T) {
	page := pageOf(t, false, "full", "daemon")
	first := strings.Join(strings.SplitN(page, "\n", 61)[:60], "\n")
	for _, want := range []string{"## which driver for what", "## contents", "| create (rule 1)", "| lookup (rule 2)", "| copy-up (rule 3)", "| delete (rule 4)", "machine: kernel"} {
		if !strings.Contains(first, want) {
			t.Errorf("first 60 lines lack %q:\n%s", want, first)
		}
	}
	for _, line := range strings.Split(first, "\n") {
		if strings.HasPrefix(line, "| create (rule 1)") && !regexp.MustCompile(`×[0-9.]+ \[[0-9.]+, [0-9.]+\]`).MatchString(line) {
			t.Errorf("the create row has no ratio with its interval: %s", line)
		}
	}
}

// Every link of the page reaches an anchor it defines, and no anchor is defined twice.
func TestPageAnchors(t *testing.T) {
	page := pageOf(t, false, "full", "daemon", "minimal")
	ids := map[string]int{}
	for _, m := range regexp.MustCompile(`<a id="([^"]+)"></a>`).FindAllStringSubmatch(page, -1) {
		ids[m[1]]++
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("anchor %q defined %d times", id, n)
		}
	}
	links := regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(page, -1)
	if len(links) < 10 {
		t.Fatalf("only %d links in the contents", len(links))
	}
	for _, m := range links {
		if ids[m[1]] == 0 {
			t.Errorf("link to #%s, which the page does not define", m[1])
		}
	}
}

// A busy machine is said once in the run's header, never as a cell's note.
func TestPageBusyOnce(t *testing.T) {
	page := pageOf(t, true, "full")
	if n := strings.Count(page, "busy machine"); n != 2 {
		t.Errorf("\"busy machine\" said %d times, want 2 (once for the page, once in the run's header):\n%s", n, page)
	}
	if !regexp.MustCompile(`- busy machine: tasks waited for a CPU \(PSI some avg10 above 20%\) while [0-9]+ of the run's [0-9]+ metrics were measured \(CPU pressure 21–33%\)`).MatchString(page) {
		t.Errorf("the run's header does not say how busy the machine was:\n%s", page)
	}
	var buf bytes.Buffer
	r, _ := result.ReadFile("testdata/full.json")
	r.Metrics[0].Warnings = append(r.Metrics[0].Warnings, result.Warnf(result.WarnBusy, "busy machine: CPU pressure 40%% (PSI some avg10) during containers"))
	if err := Tables(&buf, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "busy machine"); n != 1 {
		t.Errorf("the terminal report says \"busy machine\" %d times, want once:\n%s", n, buf.String())
	}
}

// A remote snapshotter's lazily pulled layers are not on its disk: it answers no question of disk
// use, however little it holds, while a local driver holding less does.
func TestPageDiskLocalOnly(t *testing.T) {
	var disk topic
	for _, tp := range topics {
		if tp.name == metric.DiskVsUnique {
			disk = tp
		}
	}
	mk := func(name string, remote bool, v float64) (result.DriverResult, result.Metric) {
		return result.DriverResult{Name: name, Status: result.StatusOK, Capabilities: result.Capabilities{Remote: remote}},
			result.Metric{Driver: name, Name: metric.DiskVsUnique, Params: map[string]string{metric.PContainers: "4"}, Samples: []float64{v}, Summary: result.Summary{N: 1, Median: v}}
	}
	r := &result.Result{}
	for _, d := range []struct {
		name   string
		remote bool
		v      float64
	}{{Reference, false, 1}, {"lazy", true, 0.001}, {"smaller", false, 0.8}} {
		dr, m := mk(d.name, d.remote, d.v)
		r.Drivers, r.Metrics = append(r.Drivers, dr), append(r.Metrics, m)
	}
	a := answerTopic(disk, []PageEntry{{Result: r}})
	if a == nil || len(a.verdicts) != 1 || a.verdicts[0].driver != "smaller" {
		t.Fatalf("disk answered by %+v, want the local driver smaller alone", a)
	}
}
