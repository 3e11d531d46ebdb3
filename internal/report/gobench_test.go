package report

import (
	"bytes"
	"errors"
	"math"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/seedbench/seedbench/internal/result"
)

// sample is one benchmark line as read back.
type sample struct {
	name   string // with "Benchmark"
	value  float64
	unit   string // as written (benchfmt tidies ns/op to sec/op)
	config map[string]string
}

func readGoBench(t *testing.T, text []byte) ([]sample, benchfmt.UnitMetadataMap) {
	t.Helper()
	rd := benchfmt.NewReader(bytes.NewReader(text), "gobench.txt")
	var out []sample
	units := benchfmt.UnitMetadataMap{}
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt: %v", rec)
		case *benchfmt.UnitMetadata:
			units[rec.UnitMetadataKey] = rec
		case *benchfmt.Result:
			if rec.Iters != 1 || len(rec.Values) != 1 {
				t.Errorf("%s: iters %d, values %v", rec.Name, rec.Iters, rec.Values)
			}
			v := rec.Values[0]
			s := sample{name: "Benchmark" + rec.Name.String(), value: v.Value, unit: v.Unit, config: map[string]string{}}
			if v.OrigUnit != "" {
				s.value, s.unit = v.OrigValue, v.OrigUnit
			}
			for _, c := range rec.Config {
				s.config[c.Key] = string(c.Value)
			}
			// The name parses back into the base name and the key=value sub-names.
			base, parts := rec.Name.Parts()
			if strings.Contains(string(base), "/") || len(parts) == 0 || !bytes.HasPrefix(parts[0], []byte("/driver=")) {
				t.Errorf("%s: parts %q %q", rec.Name, base, parts)
			}
			out = append(out, s)
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	return out, units
}

func TestGoBenchRoundTrip(t *testing.T) {
	for _, in := range []string{"testdata/full.json", "testdata/minimal.json"} {
		r, err := result.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := GoBench(&buf, r); err != nil {
			t.Fatal(err)
		}
		got, _ := readGoBench(t, buf.Bytes())
		i := 0
		for _, m := range r.Metrics {
			for _, v := range m.Samples {
				if i >= len(got) {
					t.Fatalf("%s: %d samples read back, want more", in, len(got))
				}
				g := got[i]
				i++
				if want := GoBenchName(m.Driver, m.Name, m.Params); g.name != want {
					t.Errorf("%s: name %q, want %q", in, g.name, want)
				}
				if g.value != v || g.unit != gobenchUnit(m.Unit) {
					t.Errorf("%s: %s = %v %s, want %v %s", in, g.name, g.value, g.unit, v, gobenchUnit(m.Unit))
				}
				if g.config["goos"] != "linux" || g.config["goarch"] != r.Env.Arch || g.config["scenario"] != r.Scenario.Name ||
					g.config["seedbench"] != r.Run.ToolVersion || g.config["backing"] != r.Env.Backing.FS {
					t.Errorf("%s: config %v", in, g.config)
				}
			}
		}
		if i != len(got) {
			t.Errorf("%s: %d samples read back, want %d", in, len(got), i)
		}
	}
}

func TestGoBenchParams(t *testing.T) {
	// Parameter values survive, including ones that look like benchfmt syntax; keys follow the
	// driver in FormatParams' order; NaN samples are left out; units and config are as documented.
	r := &result.Result{
		Scenario: result.ScenarioRef{Name: "flagship"},
		Run:      result.Run{ToolVersion: "v0.2.0", Commit: "abc123"},
		Env:      result.Env{Arch: "arm64", Kernel: "6.1.0-18-amd64 #1 SMP Debian", Backing: result.Backing{FS: "xfs"}},
		Metrics: []result.Metric{
			{Driver: "overlayfs", Name: "copyup.latency", Unit: "ns", Better: "lower",
				Params:  map[string]string{"size": "64MiB", "how": "append", "cache": "cold", "write": "first", "image": "web"},
				Samples: []float64{2.21e6, math.NaN(), 2250000.5}},
			{Driver: "native", Name: "disk.shared_savings", Unit: "ratio", Better: "higher",
				Params: map[string]string{"images": "1", "containers": "4"}, Samples: []float64{0.8}},
			{Driver: "native", Name: "disk.vs_unique", Unit: "ratio", Better: "lower", Samples: []float64{0.25}},
			{Driver: "my driver", Name: "pagecache.resident", Unit: "bytes", Better: "lower",
				Params:  map[string]string{"layer": "a/b=c d", "trace": "run-2", "file": "100%"},
				Samples: []float64{256 << 20}},
		},
	}
	var buf bytes.Buffer
	if err := GoBench(&buf, r); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"goos: linux\ngoarch: arm64\nscenario: flagship\nkernel: 6.1.0-18-amd64\nbacking: xfs\nseedbench: v0.2.0\ncommit: abc123\n",
		"Unit ns/op assume=nothing better=lower\nUnit ratio assume=nothing\nUnit B assume=nothing better=lower\n",
		"BenchmarkCopyupLatency/driver=overlayfs/image=web/size=64MiB/how=append/cache=cold/write=first 1 2210000 ns/op\n",
		"BenchmarkCopyupLatency/driver=overlayfs/image=web/size=64MiB/how=append/cache=cold/write=first 1 2250000.5 ns/op\n",
		"BenchmarkDiskSharedSavings/driver=native/images=1/containers=4 1 0.8 ratio\n",
		"BenchmarkDiskVsUnique/driver=native 1 0.25 ratio\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "NaN") {
		t.Errorf("NaN sample written:\n%s", text)
	}
	got, units := readGoBench(t, buf.Bytes())
	if len(got) != 5 {
		t.Fatalf("%d samples read back, want 5:\n%s", len(got), text)
	}
	if units.GetBetter("ns/op") != -1 || units.GetBetter("B") != -1 || units.GetBetter("ratio") != 0 {
		t.Errorf("better: ns/op %d, B %d, ratio %d", units.GetBetter("ns/op"), units.GetBetter("B"), units.GetBetter("ratio"))
	}
	if got[0].value != 2.21e6 || got[0].unit != "ns/op" || got[4].unit != "B" || got[4].value != 256<<20 {
		t.Errorf("values: %+v", got)
	}
	// The awkward values come back intact: split the name on '/' and '=', unescape.
	params := map[string]string{}
	for _, part := range strings.Split(got[4].name, "/")[1:] {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			t.Fatalf("part %q of %q is not key=value", part, got[4].name)
		}
		uk, err1 := url.PathUnescape(k)
		uv, err2 := url.PathUnescape(v)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		params[uk] = uv
	}
	want := map[string]string{"driver": "my driver", "layer": "a/b=c d", "trace": "run-2", "file": "100%"}
	for k, v := range want {
		if params[k] != v {
			t.Errorf("params read back %q, want %q", params, want)
			break
		}
	}
	// "run-2" ends a name: escaped, so benchfmt does not take -2 for GOMAXPROCS.
	if n := GoBenchName("d", "op.read", map[string]string{"trace": "run-2"}); n != "BenchmarkOpRead/driver=d/trace=run%2D2" {
		t.Errorf("GoBenchName = %q", n)
	}
}

func TestGoBenchWriteError(t *testing.T) {
	r, err := result.ReadFile("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := GoBench(&failWriter{n: 3}, r); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("GoBench on a failing writer: %v", err)
	}
}
