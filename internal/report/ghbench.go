package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/report/plot"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// GitHubBench is one entry of github-action-benchmark's custom JSON (tool customSmallerIsBetter or
// customBiggerIsBetter): a benchmark's name, unit and value, with its interval as range and the
// run's context as extra.
type GitHubBench struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	Range string  `json:"range,omitempty"`
	Extra string  `json:"extra,omitempty"`
}

// GitHubBenchmarks lists the metrics of rs whose direction is better (metric.Lower for the action's
// customSmallerIsBetter tool, metric.Higher for customBiggerIsBetter; direction and unit from the
// metric catalogue), one entry per metric: its median, and its interval as "[lo, hi] at 95%" (the
// level it reaches). Names are driver/metric/key=value,… in the catalogue's parameter order, the
// scenario first when rs hold several. Metrics without a finite median are left out.
func GitHubBenchmarks(rs []*result.Result, better metric.Better) []GitHubBench {
	out := []GitHubBench{}
	for _, r := range rs {
		for _, m := range summarized(r.Metrics) {
			if metric.BetterOf(m.Name) != better || m.Summary.N == 0 || !plot.Finite(m.Summary.Median) {
				continue
			}
			name := m.Driver + "/" + string(m.Name)
			if ps := FormatParams(m.Params); ps != "" {
				name += "/" + ps
			}
			if len(rs) > 1 {
				name = r.Scenario.Name + "/" + name
			}
			b := GitHubBench{Name: name, Unit: m.Unit, Value: m.Summary.Median,
				Extra: fmt.Sprintf("n=%d; scenario %s; run %s", m.Summary.N, r.Scenario.Name, r.Run.Started.UTC().Format("2006-01-02T15:04:05Z"))}
			if lo, hi := m.Summary.SampleCI(); m.Summary.N > 1 && hi > lo {
				level := m.Summary.Confidence
				if level == 0 {
					level = stats.Confidence
				}
				b.Range = fmt.Sprintf("[%.4g, %.4g] at %.1f%%", lo, hi, 100*level)
			}
			out = append(out, b)
		}
	}
	return out
}

// WriteGitHubBenchmarks writes GitHubBenchmarks(rs, better) as indented JSON.
func WriteGitHubBenchmarks(w io.Writer, rs []*result.Result, better metric.Better) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(GitHubBenchmarks(rs, better))
}
